"""Commands, status codes and code tables of the ID-card security module."""

from __future__ import annotations

from enum import IntEnum



RESET = (0x10, 0xFF)
STATUS = (0x11, 0xFF)
MODULE_ID = (0x12, 0xFF)
FIND_CARD = (0x20, 0x01)
SELECT_CARD = (0x20, 0x02)
READ_TEXT_PHOTO = (0x30, 0x01)
READ_TEXT_PHOTO_FP = (0x30, 0x10)
READ_NEW_ADDRESS = (0x30, 0x03)

COMMANDS = {
    RESET: "reset", STATUS: "status", MODULE_ID: "module-id", FIND_CARD: "find-card", SELECT_CARD: "select-card",
    READ_TEXT_PHOTO: "read-text-photo", READ_TEXT_PHOTO_FP: "read-text-photo-fingerprint",
    READ_NEW_ADDRESS: "read-new-address",
}


class Sw3(IntEnum):
    SUCCESS = 0x90
    CARD_FOUND = 0x9F
    FIND_FAILED = 0x80
    SELECT_FAILED = 0x81
    READ_FAILED = 0x41
    CHECKSUM_ERROR = 0x10
    LENGTH_ERROR = 0x11
    UNKNOWN_COMMAND = 0x21
    NOT_PERMITTED = 0x23
    UNAUTHORISED = 0x24
    CARD_AUTH_FAILED = 0x31
    KEY_CHECK_FAILED = 0x32
    MODULE_AUTH_FAILED = 0x33
    CARD_COMMAND_ERROR = 0x40
    MODULE_KEY_ERROR = 0x47
    SELF_TEST_FAILED = 0x60
    MODULE_NOT_AUTHORISED = 0x66


STATUS_MEANING = {
    Sw3.SUCCESS: "success",
    Sw3.CARD_FOUND: "card found",
    Sw3.FIND_FAILED: "no card",
    Sw3.SELECT_FAILED: "select failed",
    Sw3.READ_FAILED: "read failed",
    Sw3.CHECKSUM_ERROR: "checksum error in request",
    Sw3.LENGTH_ERROR: "length error in request",
    Sw3.UNKNOWN_COMMAND: "unknown command",
    Sw3.NOT_PERMITTED: "command not permitted",
    Sw3.UNAUTHORISED: "unauthorised",
    Sw3.CARD_AUTH_FAILED: "card/module authentication failed",
    Sw3.KEY_CHECK_FAILED: "key/random check failed",
    Sw3.MODULE_AUTH_FAILED: "module authentication failed",
    Sw3.CARD_COMMAND_ERROR: "card/command error",
    Sw3.MODULE_KEY_ERROR: "module key error",
    Sw3.SELF_TEST_FAILED: "module self-test failed",
    Sw3.MODULE_NOT_AUTHORISED: "module not authorised",
}

# GB 3304 nationality (ethnic group) codes.
NATIONS = {
    1: "汉", 2: "蒙古", 3: "回", 4: "藏", 5: "维吾尔", 6: "苗", 7: "彝", 8: "壮", 9: "布依", 10: "朝鲜",
    11: "满", 12: "侗", 13: "瑶", 14: "白", 15: "土家", 16: "哈尼", 17: "哈萨克", 18: "傣", 19: "黎", 20: "傈僳",
    21: "佤", 22: "畲", 23: "高山", 24: "拉祜", 25: "水", 26: "东乡", 27: "纳西", 28: "景颇", 29: "柯尔克孜",
    30: "土", 31: "达斡尔", 32: "仫佬", 33: "羌", 34: "布朗", 35: "撒拉", 36: "毛南", 37: "仡佬", 38: "锡伯",
    39: "阿昌", 40: "普米", 41: "塔吉克", 42: "怒", 43: "乌孜别克", 44: "俄罗斯", 45: "鄂温克", 46: "德昂",
    47: "保安", 48: "裕固", 49: "京", 50: "塔塔尔", 51: "独龙", 52: "鄂伦春", 53: "赫哲", 54: "门巴", 55: "珞巴",
    56: "基诺", 97: "其他", 98: "外国血统中国籍人士",
}

SEX = {"0": "unknown", "1": "male", "2": "female", "9": "unspecified"}
