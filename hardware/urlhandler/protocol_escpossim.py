from ._emulated import EmulatedSerial


class Serial(EmulatedSerial):
    kind = "escpossim"
