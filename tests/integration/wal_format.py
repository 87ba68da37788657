"""An independent writer of the WAL format of docs/formats/wal.md, so tests can
lay down segments (good, torn, corrupt) without using the C++ code under test."""
import struct

_POLY = 0x82F63B78
_TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ _POLY if c & 1 else c >> 1
    _TABLE.append(c)


def crc32c(data: bytes) -> int:
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def mask(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283

HEADER_SIZE = 32
RECORD_HEADER_SIZE = 20


def segment_header(base_offset: int) -> bytes:
    head = b"FRZLWAL\n" + struct.pack("<IIQI", 1, 0, base_offset, 0)
    return head + struct.pack("<I", mask(crc32c(head)))


def record(offset: int, payload: bytes) -> bytes:
    body = struct.pack("<IBBHQ", len(payload), 1, 0, 0, offset) + payload
    return struct.pack("<I", mask(crc32c(body))) + body


def segment_name(base_offset: int) -> str:
    return f"{base_offset:020d}.wal"
