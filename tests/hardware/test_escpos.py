from datetime import datetime

from hardware.emulators import forget_emulator, get_emulator
from hardware.escpos.printer import TicketPrinter, decode_status
from hardware.escpos.ticket import FS_CHINESE_OFF, FS_CHINESE_ON, Ticket, render_ticket

ZH = Ticket("示范支行", "A017", "个人存取款", datetime(2026, 11, 23, 9, 30), waiting_ahead=3, language="zh",
            qr="https://queue.example/A017")
EN = Ticket("Demo Branch", "B002", "Foreign exchange", datetime(2026, 11, 23, 9, 31), waiting_ahead=0, language="en")


def test_chinese_ticket_bytes():
    data = render_ticket(ZH)
    assert data.startswith(b"\x1b@")  # ESC @ initialise
    assert FS_CHINESE_ON + "示范支行".encode("gb18030") + FS_CHINESE_OFF in data
    assert FS_CHINESE_ON + "前面还有 3 人等候".encode("gb18030") + FS_CHINESE_OFF in data
    assert b"A017" in data and b"2026-11-23 09:30" in data
    assert b"\x1d(k" in data  # native QR (GS ( k)
    assert data.endswith(b"\x1bd\x06\x1dV\x00")  # feed six lines and cut (GS V 0)


def test_english_ticket_has_no_chinese_mode():
    data = render_ticket(EN)
    assert FS_CHINESE_ON not in data and b"Your number" in data and b"Foreign exchange" in data


def test_status_bits():
    assert decode_status(0x12, 0x12, 0x12).ok
    s = decode_status(0x1A, 0x32, 0x72)
    assert not s.online and s.paper_out and not s.ok
    assert decode_status(0x12, 0x12, 0x1E).paper_near_end


def test_printer_against_emulator():
    emu = get_emulator("escpossim", "t-printer")
    try:
        p = TicketPrinter.open("escpossim://t-printer")
        assert p.status().ok
        p.print_ticket(ZH)
        p.print_ticket(EN)
        assert len(emu.jobs) == 2
        assert "示范支行" in emu.job_text(0) and "A017" in emu.job_text(0) and "B002" in emu.job_text(1)
        emu.paper_out = True
        st = p.status()
        assert st.paper_out and not st.ok
    finally:
        forget_emulator("escpossim", "t-printer")
