"""A scripted serial port (nfcpy style): records writes, replays queued replies in the pieces given."""

from collections import deque

import serial


class FakePort:
    def __init__(self, replies=()):
        self.writes: list[bytes] = []
        self._rx = deque(replies)
        self.timeout = 0.01
        self.is_open = True
        self.fail = False

    def queue(self, *pieces: bytes) -> None:
        self._rx.extend(pieces)

    @property
    def in_waiting(self) -> int:
        return len(self._rx[0]) if self._rx else 0

    def read(self, n=1) -> bytes:
        if self.fail:
            raise serial.SerialException("device disconnected")
        return self._rx.popleft() if self._rx else b""

    def write(self, data: bytes) -> int:
        if self.fail:
            raise serial.SerialException("write failed")
        self.writes.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def reset_input_buffer(self) -> None:
        pass

    def close(self) -> None:
        self.is_open = False
