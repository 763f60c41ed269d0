"""Attachments built in memory for the attachment policy's tests (builders only, no tests): executables, macro
documents, archives, bombs."""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import zipfile
import zlib
from typing import Final

GIB: Final = 1024**3
MSI_CLSID: Final = bytes.fromhex("84100C00000000 00C0000000000000 46".replace(" ", ""))  # 000C1084-...-46, mixed endian
NO_STREAM: Final = 0xFFFFFFFF
END_OF_CHAIN: Final = 0xFFFFFFFE
FAT_SECTOR: Final = 0xFFFFFFFD


def build_pe() -> bytes:
    """A PE header: MZ, e_lfanew at 0x3c pointing at "PE\\0\\0" (Microsoft PE format)."""
    header = bytearray(0x200)
    header[:2] = b"MZ"
    header[0x3C:0x40] = struct.pack("<I", 0x80)
    header[0x80:0x84] = b"PE\x00\x00"
    return bytes(header)


def build_zip(members: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return buffer.getvalue()


def build_encrypted_zip(members: dict[str, bytes]) -> bytes:
    """A zip whose members have the encryption bit set (APPNOTE 4.4.4 bit 0) in both headers: what a
    password-protected zip looks like to a reader without the password."""
    data = bytearray(build_zip(members, method=zipfile.ZIP_STORED))
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            data[start + flag_offset] |= 0x1
            start += 4
    return bytes(data)


def build_docm() -> bytes:
    return build_zip(
        {
            "[Content_Types].xml": b'<?xml version="1.0"?><Types/>',
            "word/document.xml": b"<w:document/>",
            "word/vbaProject.bin": b"\xd0\xcf\x11\xe0 not really",
        }
    )


def build_docx() -> bytes:
    return build_zip({"[Content_Types].xml": b'<?xml version="1.0"?><Types/>', "word/document.xml": b"<w:document/>"})


def _directory_entry(name: str, kind: int, child: int = NO_STREAM, clsid: bytes = b"\x00" * 16) -> bytes:
    """One 128-byte MS-CFB directory entry (2.6.1): name, type, colour black, no siblings, start and size 0."""
    encoded = (name + "\x00").encode("utf-16-le")
    entry = encoded.ljust(64, b"\x00") + struct.pack("<HBB", len(encoded), kind, 1)
    entry += struct.pack("<III", NO_STREAM, NO_STREAM, child) + clsid + b"\x00" * 4 + b"\x00" * 16
    return entry + struct.pack("<IQ", END_OF_CHAIN, 0)


def build_ole(storages: list[str], *, stream: str = "", root_clsid: bytes = b"\x00" * 16) -> bytes:
    """A minimal version-3 compound file: a chain of storages (each the child of the one before) ending in one
    empty stream. Enough for a directory reader; there is no content."""
    entries = [_directory_entry("Root Entry", 5, child=1, clsid=root_clsid)]
    names = [*storages, stream] if stream else storages
    for position, name in enumerate(names, start=1):
        last = position == len(names)
        kind = 2 if (stream and last) else 1
        entries.append(_directory_entry(name, kind, child=NO_STREAM if last else position + 1))
    directory = b"".join(entries).ljust(512 * ((len(entries) + 3) // 4), b"\x00")
    directory_sectors = len(directory) // 512
    fat = [FAT_SECTOR] + [index + 2 for index in range(1, directory_sectors)] + [END_OF_CHAIN]
    fat_sector = struct.pack(f"<{len(fat)}I", *fat).ljust(512, b"\xff")
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16
    header += struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\x00" * 6
    header += struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, END_OF_CHAIN, 0, END_OF_CHAIN, 0)
    header += struct.pack("<I", 0) + b"\xff" * 4 * 108
    payload = header + fat_sector + directory
    return payload.ljust(max(len(payload), 1536), b"\x00")


def build_declared_bomb(declared: int = 10 * GIB, *, stream_bytes: int = 8 * 1024 * 1024) -> bytes:
    """A zip with one member whose directory declares `declared` bytes (ZIP64 extra fields, APPNOTE 4.5.3) over a
    deflate stream of zeros: the shape of a bomb, built without compressing gigabytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"\x00" * (1024 * 1024)
    data = b"".join(compressor.compress(chunk) for _ in range(stream_bytes // len(chunk))) + compressor.flush()
    name = b"zeros.bin"
    zip64_local = struct.pack("<HHQQ", 1, 16, declared, len(data))
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 45, 0, 8, 0, 0x21, 0, 0xFFFFFFFF, 0xFFFFFFFF, len(name), len(zip64_local)
    )
    local += name + zip64_local + data
    zip64_central = struct.pack("<HHQQ", 1, 16, declared, len(data))
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII",
        0x02014B50, 45, 45, 0, 8, 0, 0x21, 0, 0xFFFFFFFF, 0xFFFFFFFF, len(name), len(zip64_central), 0, 0, 0, 0, 0,
    )  # fmt: skip
    central += name + zip64_central
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local), 0)
    return local + central + end


def build_gzip_bomb(size: int = 200 * 1024 * 1024) -> bytes:
    """A gzip stream of `size` zeros (about 0.1% of it on the wire), compressed piecewise."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as stream:
        chunk = b"\x00" * (1024 * 1024)
        for _ in range(size // len(chunk)):
            stream.write(chunk)
    return buffer.getvalue()


def build_tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def build_nested_zip(inner: bytes, inner_name: str, levels: int) -> bytes:
    payload, name = inner, inner_name
    for level in range(levels):
        payload, name = build_zip({name: payload}), f"level{level}.zip"
    return payload


PDF: Final = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG: Final = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
