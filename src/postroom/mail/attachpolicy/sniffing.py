"""A part's real type from its leading bytes, and the type its name and declared Content-Type claim.

filetype (already the parser's sniffer) knows the common formats; the few signatures it lacks and the policy
needs are checked here first: PE with its "PE\\0\\0" header, Mach-O, OLE compound files (MS-CFB), Windows shortcuts
(MS-SHLLINK), ISO 9660 (ECMA-119: "CD001" at byte 32769), VHD and VHDX. Scripts carry no magic: Windows runs a
`.js`, `.vbs` or `.hta` by its name, so a text part with such a name is an executable.
"""

from __future__ import annotations

from typing import Final

import filetype

from postroom.mail.attachpolicy.values import Family, TypeEvidence

SNIFF_BYTES: Final = 8192  # filetype reads no more than this; our own signatures need at most 36 KiB (ISO 9660)
ISO_OFFSETS: Final = (0x8001, 0x8801, 0x9001)  # ECMA-119 volume descriptors at sectors 16-18, 2048-byte sectors
OLE_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # MS-CFB 2.2
LNK_MAGIC: Final = b"L\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00F"  # MS-SHLLINK 2.1
MACHO_MAGICS: Final = (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe")
ZIP_MIME: Final = "application/zip"
OLE_MIME: Final = "application/x-ole-storage"

# Names Windows (or a browser, or Office) runs or mounts when opened: Microsoft's list of blocked attachments in
# Outlook (support.microsoft.com, "Blocked attachments in Outlook"), trimmed to what still matters. Not `.sys` or
# `.drv`: a real driver has a PE header, and a text one is a DOS CONFIG.SYS.
EXECUTABLE_EXTENSIONS: Final = frozenset(
    {
        "exe", "dll", "scr", "pif", "com", "cpl", "ocx", "msi", "msp", "mst", "msc",
        "js", "jse", "vbs", "vbe", "wsf", "wsh", "wsc", "ps1", "ps1xml", "psm1", "psd1", "psc1",
        "bat", "cmd", "hta", "sct", "jar", "reg", "inf", "scf", "chm", "hlp", "url", "lnk", "application",
        "gadget", "appx", "appxbundle", "msix", "msixbundle", "appref-ms", "settingcontent-ms", "library-ms",
        "iso", "img", "vhd", "vhdx", "dmg", "apk", "xll", "xlam", "ppam", "xbap", "diagcab", "mshxml",
    }
)  # fmt: skip
MACRO_EXTENSIONS: Final = frozenset({"docm", "dotm", "xlsm", "xltm", "xlsb", "pptm", "potm", "ppsm", "sldm"})
# What a name claims (only as evidence; the bytes decide the family).
_CLAIMED: Final[dict[Family, frozenset[str]]] = {
    Family.DOCUMENT: frozenset(
        {
            "pdf", "doc", "docx", "dot", "dotx", "xls", "xlsx", "xlt", "xltx", "ppt", "pptx", "pps", "ppsx",
            "pot", "potx", "odt", "ods", "odp", "odg", "rtf", "epub", "ps", "eps", "msg", "pages", "numbers",
            "key", "vsd", "vsdx", "pub", "one",
        }
    ),
    Family.IMAGE: frozenset(
        {"png", "jpg", "jpeg", "jpe", "gif", "bmp", "tif", "tiff", "webp", "heic", "heif", "ico", "svg", "avif"}
    ),
    Family.MEDIA: frozenset(
        {"mp3", "mp4", "m4a", "m4v", "wav", "ogg", "oga", "webm", "mov", "avi", "mkv", "wmv", "wma", "flac", "aac"}
    ),
    Family.ARCHIVE: frozenset({"zip", "rar", "7z", "gz", "tgz", "tar", "bz2", "tbz2", "xz", "txz", "cab", "zst"}),
    Family.TEXT: frozenset({"txt", "csv", "tsv", "log", "xml", "json", "html", "htm", "eml", "ics", "vcf", "md"}),
    Family.MACRO_DOCUMENT: MACRO_EXTENSIONS,
    Family.EXECUTABLE: EXECUTABLE_EXTENSIONS,
}  # fmt: skip
# The sniffed families a claimed family is compatible with: OTHER (no magic) and TEXT are no evidence of a lie for
# formats that are text or that filetype does not know.
_COMPATIBLE: Final[dict[Family, frozenset[Family]]] = {
    Family.DOCUMENT: frozenset({Family.DOCUMENT, Family.MACRO_DOCUMENT, Family.TEXT, Family.OTHER}),
    Family.MACRO_DOCUMENT: frozenset({Family.DOCUMENT, Family.MACRO_DOCUMENT, Family.OTHER}),
    Family.IMAGE: frozenset({Family.IMAGE, Family.TEXT, Family.OTHER}),
    Family.MEDIA: frozenset({Family.MEDIA, Family.IMAGE, Family.OTHER}),
    Family.ARCHIVE: frozenset({Family.ARCHIVE, Family.OTHER}),
    Family.TEXT: frozenset({Family.TEXT, Family.DOCUMENT, Family.OTHER}),
    Family.EXECUTABLE: frozenset({Family.EXECUTABLE, Family.TEXT, Family.OTHER, Family.ARCHIVE}),
}
_EXECUTABLE_MIMES: Final = frozenset(
    {
        "application/x-msdownload", "application/x-executable", "application/x-mach-binary",
        "application/x-shockwave-flash", "application/x-google-chrome-extension", "application/wasm",
        "application/x-deb", "application/x-rpm", "application/x-msi", "application/x-ms-shortcut",
        "application/x-iso9660-image", "application/x-vhd", "application/x-apple-diskimage",
    }
)  # fmt: skip
_ARCHIVE_MIMES: Final = frozenset(
    {
        "application/zip", "application/x-tar", "application/gzip", "application/x-bzip2", "application/x-xz",
        "application/x-7z-compressed", "application/x-rar-compressed", "application/vnd.rar", "application/zstd",
        "application/x-lzip", "application/x-lz4", "application/x-compress", "application/x-lzop",
        "application/vnd.ms-cab-compressed", "application/x-brotli", "application/x-unix-archive",
    }
)  # fmt: skip
_DOCUMENT_PREFIXES: Final = (
    "application/pdf", "application/rtf", "application/msword", "application/vnd.ms-", "application/postscript",
    "application/vnd.openxmlformats", "application/vnd.oasis.opendocument", "application/epub", OLE_MIME,
)  # fmt: skip


def find_extension(filename: str) -> str:
    """The last extension, lower case, without the dot: `invoice.pdf.exe` -> `exe`."""
    stem, dot, extension = filename.strip().strip(".").rpartition(".")
    return extension.lower() if dot and stem else ""


def find_family_of_mime(mime: str) -> Family:  # noqa: PLR0911 (one answer per family)
    mime = mime.lower()
    if mime in _EXECUTABLE_MIMES:
        return Family.EXECUTABLE
    if mime in _ARCHIVE_MIMES:
        return Family.ARCHIVE
    if mime.startswith(_DOCUMENT_PREFIXES):
        return Family.DOCUMENT
    if mime.startswith("image/"):
        return Family.IMAGE
    if mime.startswith(("audio/", "video/")):
        return Family.MEDIA
    if mime.startswith("text/") or mime in {"application/json", "application/xml", "message/rfc822"}:
        return Family.TEXT
    return Family.OTHER


def sniff_magic(payload: bytes) -> tuple[str, str] | None:
    """(MIME type, how it was recognised) from the leading bytes, or None when they show nothing known."""
    head = payload[:SNIFF_BYTES]
    own = _sniff_own(payload)
    if own is not None:
        return own
    try:
        kind = filetype.guess(head)
    except (TypeError, ValueError):
        kind = None
    if kind is not None:
        return str(kind.mime), f"{kind.extension} signature"
    return None


_PREFIX_SIGNATURES: Final = (
    ((b"\x7fELF",), "application/x-executable", "ELF header"),
    (MACHO_MAGICS, "application/x-mach-binary", "Mach-O header"),
    ((OLE_MAGIC,), OLE_MIME, "OLE compound file header"),
    ((LNK_MAGIC,), "application/x-ms-shortcut", "Windows shortcut (shell link) header"),
    ((b"vhdxfile", b"conectix"), "application/x-vhd", "virtual hard disk header"),
)


def _sniff_own(payload: bytes) -> tuple[str, str] | None:
    if payload.startswith(b"MZ"):
        # A PE file has "PE\0\0" where e_lfanew (offset 0x3c) points (Microsoft PE format); a bare MZ is DOS.
        offset = int.from_bytes(payload[0x3C:0x40], "little") if len(payload) >= 0x40 else 0
        if 0 < offset < len(payload) - 4 and payload[offset : offset + 4] == b"PE\x00\x00":
            return "application/x-msdownload", "PE header"
        return "application/x-msdownload", "MZ (DOS executable) header"
    for magics, mime, detail in _PREFIX_SIGNATURES:
        if payload.startswith(magics):
            return mime, detail
    if any(payload[offset : offset + 5] == b"CD001" for offset in ISO_OFFSETS):
        return "application/x-iso9660-image", "ISO 9660 volume descriptor"
    return None


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return bool(head) and head.startswith((b"\xff\xfe", b"\xfe\xff")) and len(head) % 2 == 0  # UTF-16 with BOM
    controls = sum(1 for byte in head if byte < 32 and byte not in b"\t\n\r\f\x1b")
    return controls * 100 < len(head)  # under 1% control characters: text in some 8-bit charset


def build_type_evidence(payload: bytes, filename: str, declared: str) -> TypeEvidence:
    """The family the bytes show; a text or unknown part named like a script or executable counts as executable."""
    extension = find_extension(filename)
    sniffed = sniff_magic(payload)
    if sniffed is not None:
        mime, detail = sniffed
        family = find_family_of_mime(mime)
    elif _looks_like_text(payload[:SNIFF_BYTES]):
        mime, detail, family = "text/plain", "text (no signature)", Family.TEXT
    else:
        mime, detail, family = "application/octet-stream", "no known signature", Family.OTHER
    if family in {Family.TEXT, Family.OTHER} and extension in EXECUTABLE_EXTENSIONS:
        family, detail = Family.EXECUTABLE, f"{detail}, named .{extension}, which Windows runs or mounts"
    return TypeEvidence(family=family, sniffed=mime, declared=declared, extension=extension, detail=detail)


def find_claimed_family(evidence: TypeEvidence) -> Family | None:
    """The family the name claims, else the declared Content-Type (unless it is the generic octet-stream)."""
    for family, extensions in _CLAIMED.items():
        if evidence.extension in extensions:
            return family
    declared = evidence.declared.lower()
    if declared and declared not in {"application/octet-stream", "application/binary", "application/unknown"}:
        family = find_family_of_mime(declared)
        return family if family is not Family.OTHER else None
    return None


def is_mismatch(claimed: Family, actual: Family) -> bool:
    return actual not in _COMPATIBLE.get(claimed, frozenset({claimed, Family.OTHER}))
