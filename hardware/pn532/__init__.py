"""NXP PN532 NFC reader over HSU (UART)."""
