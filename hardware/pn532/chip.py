"""PN532 command codes and the error table (status byte of InDataExchange and friends)."""

GET_FIRMWARE_VERSION = 0x02
SAM_CONFIGURATION = 0x14
RF_CONFIGURATION = 0x32
IN_DATA_EXCHANGE = 0x40
IN_LIST_PASSIVE_TARGET = 0x4A

ERRORS = {
    0x01: "time out, the target has not answered",
    0x02: "CRC error detected by the CIU",
    0x03: "parity error detected by the CIU",
    0x04: "erroneous bit count during anticollision",
    0x05: "framing error during MIFARE operation",
    0x06: "abnormal bit collision during anticollision",
    0x07: "communication buffer size insufficient",
    0x09: "RF buffer overflow",
    0x0A: "RF field not switched on in time",
    0x0B: "RF protocol error",
    0x0D: "temperature error",
    0x0E: "internal buffer overflow",
    0x10: "invalid parameter",
    0x12: "DEP protocol: command not supported",
    0x13: "DEP protocol: data format mismatch",
    0x14: "MIFARE authentication error",
    0x23: "ISO/IEC 14443-3 UID check byte wrong",
    0x25: "DEP protocol: invalid device state",
    0x26: "operation not allowed in this configuration",
    0x27: "command not acceptable in this context",
    0x29: "target released by initiator",
    0x2A: "card ID does not match",
    0x2B: "card disappeared",
    0x2C: "NFCID3 mismatch",
    0x2D: "over-current",
    0x2E: "NAD missing in DEP frame",
}
