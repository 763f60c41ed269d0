"""Look inside a part without extracting it: zip (and OOXML/ODF/JAR), tar, gzip/bzip2/xz streams, RAR listings, OLE.

Bounded on purpose (ArchiveLimits): declared sizes and ratios are checked from the directory before a byte is
decompressed; members are read in chunks, only their first SNIFF_BYTES unless they are archives or OLE files
themselves, and every byte decompressed for one top-level part is charged to one budget. Nothing touches the disk.
"""

from __future__ import annotations

import bz2
import dataclasses
import io
import itertools
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Final

import rarfile

from postroom.mail.attachpolicy.office import read_ole_contents
from postroom.mail.attachpolicy.sniffing import (
    EXECUTABLE_EXTENSIONS,
    OLE_MIME,
    SNIFF_BYTES,
    build_type_evidence,
    find_extension,
)
from postroom.mail.attachpolicy.values import (
    ArchiveLimits,
    AttachmentPolicy,
    Family,
    Outcome,
    Reason,
    ReasonCode,
    TypeEvidence,
)

CHUNK_BYTES: Final = 64 * 1024
LOCAL_HEADER_BYTES: Final = 30  # a zip local file header without name and extra field (APPNOTE 4.3.7)
ZIP_MIMES: Final = frozenset(
    {
        "application/zip", "application/epub+zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
    }
)  # fmt: skip
STREAM_MIMES: Final = frozenset({"application/gzip", "application/x-bzip2", "application/x-xz"})
RAR_MIMES: Final = frozenset({"application/x-rar-compressed", "application/vnd.rar"})
TAR_MIME: Final = "application/x-tar"
CONTAINER_MIMES: Final = ZIP_MIMES | STREAM_MIMES | RAR_MIMES | {TAR_MIME, OLE_MIME}
# ODF keeps Basic macros under Basic/<library>/ and other script languages under Scripts/; these index files
# exist without any macro.
_ODF_SCRIPT_INDEXES: Final = ("script-lc.xml", "script-lb.xml", "dialog-lc.xml", "dialog-lb.xml")
_ZIP_ERRORS: Final = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError, NotImplementedError)
_TAR_ERRORS: Final = (tarfile.TarError, OSError, EOFError, ValueError, UnicodeError)


@dataclass(slots=True)
class Budget:
    """What one top-level part may still cost: bytes decompressed, members listed, uncompressed size declared."""

    read_left: int
    entries_left: int
    declared_total: int = 0

    @classmethod
    def for_limits(cls, limits: ArchiveLimits) -> Budget:
        return cls(read_left=limits.read_budget_bytes, entries_left=limits.max_entries)


@dataclass(frozen=True, slots=True)
class Inspection:
    evidence: TypeEvidence  # the family may be refined by what is inside (OOXML with vbaProject.bin: macro_document)
    reasons: tuple[Reason, ...] = ()
    members: int = 0


class _Findings:
    """Reasons gathered while looking into one container."""

    def __init__(self, policy: AttachmentPolicy, budget: Budget) -> None:
        self.policy = policy
        self.limits = policy.archive
        self.budget = budget
        self.reasons: list[Reason] = []
        self.members = 0

    def add(self, code: ReasonCode, outcome: Outcome, detail: str) -> None:
        self.reasons.append(Reason(code, outcome, detail))

    def has(self, code: ReasonCode) -> bool:
        return any(reason.code is code for reason in self.reasons)

    def declare(self, name: str, size: int, compressed: int | None) -> None:
        """Check one member's declared size (and ratio when the format gives a compressed size)."""
        self.budget.declared_total += max(size, 0)
        if self.budget.declared_total > self.limits.max_total_bytes and not self.has(ReasonCode.ARCHIVE_BOMB):
            self.add(
                ReasonCode.ARCHIVE_BOMB,
                Outcome.BLOCKED,
                f"declares more than {_mib(self.limits.max_total_bytes)} uncompressed",
            )
        ratio = size // max(compressed or 0, 1)
        if compressed is not None and size > self.limits.ratio_floor_bytes and ratio > self.limits.max_ratio:
            self.add(ReasonCode.ARCHIVE_BOMB, Outcome.BLOCKED, f"{name} expands {ratio}:1 to {_mib(size)}")

    def count_entries(self, wanted: int) -> int:
        """How many of `wanted` members may still be looked at; flags the rest."""
        allowed = max(min(wanted, self.budget.entries_left), 0)
        self.budget.entries_left -= allowed
        if allowed < wanted and not self.has(ReasonCode.TOO_MANY_ENTRIES):
            self.add(
                ReasonCode.TOO_MANY_ENTRIES,
                Outcome.FLAGGED,
                f"only the first {self.limits.max_entries} members are inspected",
            )
        return allowed

    def judge_member(self, name: str, inspection: Inspection) -> None:
        family = inspection.evidence.family
        self.members += 1 + inspection.members
        if family in self.policy.blocked:
            self.add(ReasonCode.BLOCKED_INSIDE, Outcome.BLOCKED, f"{name}: {family} ({inspection.evidence.detail})")
        elif family in {Family.EXECUTABLE, Family.MACRO_DOCUMENT}:
            self.add(ReasonCode.RISKY_INSIDE, Outcome.FLAGGED, f"{name}: {family} ({inspection.evidence.detail})")
        for reason in inspection.reasons:
            self.add(reason.code, reason.outcome, f"{name}: {reason.detail}")

    def member_by_name(self, name: str, why: str) -> None:
        """A member whose content is not read (encrypted, RAR): its name is the only evidence."""
        self.members += 1
        if find_extension(name) in EXECUTABLE_EXTENSIONS:
            family = Family.EXECUTABLE
            outcome = Outcome.BLOCKED if family in self.policy.blocked else Outcome.FLAGGED
            code = ReasonCode.BLOCKED_INSIDE if outcome is Outcome.BLOCKED else ReasonCode.RISKY_INSIDE
            self.add(code, outcome, f"{name}: named as an executable ({why})")

    def result(self, evidence: TypeEvidence) -> Inspection:
        return Inspection(evidence, tuple(self.reasons), self.members)


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MiB"


def inspect_part(
    payload: bytes,
    filename: str,
    declared: str,
    policy: AttachmentPolicy,
    *,
    depth: int = 0,
    budget: Budget | None = None,
) -> Inspection:
    """The part's family, refined by what its container holds, and every reason found inside."""
    budget = budget or Budget.for_limits(policy.archive)
    evidence = build_type_evidence(payload, filename, declared)
    mime = evidence.sniffed
    if mime == OLE_MIME:
        return _inspect_ole(payload, evidence)
    findings = _Findings(policy, budget)
    if mime in ZIP_MIMES:
        evidence = _inspect_zip(payload, evidence, findings, depth)
    elif mime == TAR_MIME:
        _inspect_tar(payload, findings, depth)
    elif mime in STREAM_MIMES:
        _inspect_stream(payload, filename, mime, findings, depth)
    elif mime in RAR_MIMES:
        _inspect_rar(payload, findings)
    elif evidence.family is Family.ARCHIVE:
        findings.add(ReasonCode.NOT_INSPECTED, Outcome.FLAGGED, f"{mime}: no reader for its member list")
    return findings.result(evidence)


def _inspect_ole(payload: bytes, evidence: TypeEvidence) -> Inspection:
    contents = read_ole_contents(payload)
    if not contents.readable:
        return Inspection(
            dataclasses.replace(evidence, family=Family.DOCUMENT, detail=contents.detail),
            (Reason(ReasonCode.UNREADABLE, Outcome.FLAGGED, contents.detail),),
        )
    family = Family.DOCUMENT
    if contents.installer:
        family = Family.EXECUTABLE
    elif contents.macros:
        family = Family.MACRO_DOCUMENT
    reasons: tuple[Reason, ...] = ()
    if contents.encrypted:
        reasons = (Reason(ReasonCode.ENCRYPTED, Outcome.FLAGGED, "encrypted Office document: content not inspected"),)
    return Inspection(dataclasses.replace(evidence, family=family, detail=contents.detail), reasons)


def _read_capped(opener: Callable[[], IO[bytes]], cap: int, budget: Budget) -> tuple[bytes, bool] | None:
    """Up to `cap` bytes of a member, charged to the budget; (bytes, complete), or None when it cannot be read."""
    limit = min(cap, budget.read_left)
    chunks: list[bytes] = []
    got = 0
    try:
        with opener() as stream:
            while got <= limit:
                chunk = stream.read(min(CHUNK_BYTES, limit + 1 - got))
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
    except (*_ZIP_ERRORS, *_TAR_ERRORS, rarfile.Error):
        return None
    finally:
        budget.read_left -= min(got, budget.read_left)
    data = b"".join(chunks)
    return data[:limit], got <= limit


def _inspect_member(name: str, opener: Callable[[], IO[bytes]], size: int, findings: _Findings, depth: int) -> None:
    """Sniff a member's head; open it in turn when it is a container and the depth and budget allow."""
    if findings.budget.read_left <= 0:
        findings.member_by_name(name, "read budget spent")
        if not findings.has(ReasonCode.NOT_INSPECTED):
            findings.add(ReasonCode.NOT_INSPECTED, Outcome.FLAGGED, "read budget spent: later members checked by name")
        return
    head = _read_capped(opener, SNIFF_BYTES, findings.budget)
    if head is None:
        findings.members += 1
        findings.add(ReasonCode.NOT_INSPECTED, Outcome.FLAGGED, f"{name}: unreadable member")
        return
    evidence = build_type_evidence(head[0], name, "")
    if evidence.sniffed not in CONTAINER_MIMES:
        findings.judge_member(name, Inspection(evidence))
        return
    if depth + 1 > findings.limits.max_depth:
        findings.add(ReasonCode.TOO_DEEP, Outcome.FLAGGED, f"{name}: nested deeper than {findings.limits.max_depth}")
        findings.judge_member(name, Inspection(evidence))
        return
    if size > findings.limits.nested_max_bytes:
        findings.add(ReasonCode.NOT_INSPECTED, Outcome.FLAGGED, f"{name}: {_mib(size)} nested, over the read limit")
        findings.judge_member(name, Inspection(evidence))
        return
    whole = _read_capped(opener, findings.limits.nested_max_bytes, findings.budget)
    if whole is None or not whole[1]:
        findings.add(ReasonCode.NOT_INSPECTED, Outcome.FLAGGED, f"{name}: not read to its end within the limits")
        findings.judge_member(name, Inspection(evidence))
        return
    inner = inspect_part(whole[0], name, "", findings.policy, depth=depth + 1, budget=findings.budget)
    findings.judge_member(name, inner)


def _inspect_zip(payload: bytes, evidence: TypeEvidence, findings: _Findings, depth: int) -> TypeEvidence:
    try:
        archive = zipfile.ZipFile(io.BytesIO(payload))
        infos = archive.infolist()
    except _ZIP_ERRORS as e:
        findings.add(ReasonCode.UNREADABLE, Outcome.FLAGGED, f"zip directory unreadable ({type(e).__name__})")
        return evidence
    allowed = findings.count_entries(len(infos))
    for info in infos:
        findings.declare(info.filename, info.file_size, info.compress_size)
    _check_overlap(infos, findings)
    evidence = _refine_zip_family(evidence, {info.filename.lower() for info in infos})
    encrypted = [info.filename for info in infos if info.flag_bits & 0x1]  # APPNOTE 4.4.4 bit 0
    if encrypted:
        findings.add(ReasonCode.ENCRYPTED, Outcome.FLAGGED, f"{len(encrypted)} encrypted member(s): {encrypted[0]}")
    if findings.has(ReasonCode.ARCHIVE_BOMB) or evidence.family in {Family.DOCUMENT, Family.MACRO_DOCUMENT}:
        return evidence  # never decompress a bomb; an office document's parts are XML and media
    for info in infos[:allowed]:
        if info.is_dir():
            continue
        if info.flag_bits & 0x1:
            findings.member_by_name(info.filename, "encrypted")
            continue
        _inspect_member(info.filename, _zip_opener(archive, info), info.file_size, findings, depth)
    return evidence


def _zip_opener(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], IO[bytes]]:
    return lambda: archive.open(info)


def _check_overlap(infos: list[zipfile.ZipInfo], findings: _Findings) -> None:
    """Members whose data overlap another's (David Fifield's non-recursive zip bomb, 2019) are a bomb."""
    ordered = sorted(infos, key=lambda info: info.header_offset)
    for before, after in itertools.pairwise(ordered):
        if after.header_offset < before.header_offset + LOCAL_HEADER_BYTES + before.compress_size:
            findings.add(
                ReasonCode.ARCHIVE_BOMB, Outcome.BLOCKED, f"members {before.filename} and {after.filename} overlap"
            )
            return


def _refine_zip_family(evidence: TypeEvidence, names: set[str]) -> TypeEvidence:  # noqa: PLR0911 (one per format)
    """OOXML, ODF and EPUB are documents; with a VBA project or ODF scripts, macro documents; JAR, APK, APPX run."""
    if "[content_types].xml" in names:
        if any(name.endswith("vbaproject.bin") for name in names):
            return dataclasses.replace(evidence, family=Family.MACRO_DOCUMENT, detail="OOXML with vbaProject.bin")
        return dataclasses.replace(evidence, family=Family.DOCUMENT, detail="OOXML package")
    if "mimetype" in names and "meta-inf/manifest.xml" in names:
        scripts = [
            name
            for name in names
            if name.startswith(("basic/", "scripts/")) and not name.endswith(("/", *_ODF_SCRIPT_INDEXES))
        ]
        if scripts:
            return dataclasses.replace(evidence, family=Family.MACRO_DOCUMENT, detail=f"ODF with {sorted(scripts)[0]}")
        return dataclasses.replace(evidence, family=Family.DOCUMENT, detail="OpenDocument or EPUB package")
    if "meta-inf/manifest.mf" in names and any(name.endswith(".class") for name in names):
        return dataclasses.replace(evidence, family=Family.EXECUTABLE, detail="Java archive (classes)")
    if "androidmanifest.xml" in names and "classes.dex" in names:
        return dataclasses.replace(evidence, family=Family.EXECUTABLE, detail="Android package")
    if "appxmanifest.xml" in names or "appxmetadata/appxbundlemanifest.xml" in names:
        return dataclasses.replace(evidence, family=Family.EXECUTABLE, detail="Windows app package")
    if evidence.family is not Family.ARCHIVE:
        return dataclasses.replace(evidence, family=Family.ARCHIVE, detail="zip archive")
    return evidence


def _inspect_tar(payload: bytes, findings: _Findings, depth: int) -> None:
    try:
        archive = tarfile.open(fileobj=io.BytesIO(payload), mode="r:")  # noqa: SIM115 (members are read lazily)
    except _TAR_ERRORS as e:
        findings.add(ReasonCode.UNREADABLE, Outcome.FLAGGED, f"tar unreadable ({type(e).__name__})")
        return
    try:
        for member in _iterate_tar(archive, findings):
            findings.declare(member.name, member.size, None)
            if findings.has(ReasonCode.ARCHIVE_BOMB):
                return
            if member.isfile():
                _inspect_member(member.name, _tar_opener(archive, member), member.size, findings, depth)
    except _TAR_ERRORS as e:
        findings.add(ReasonCode.NOT_INSPECTED, Outcome.FLAGGED, f"tar ends early ({type(e).__name__})")


def _iterate_tar(archive: tarfile.TarFile, findings: _Findings) -> Iterator[tarfile.TarInfo]:
    while True:
        member = archive.next()
        if member is None:
            return
        if findings.count_entries(1) == 0:
            return
        yield member


def _tar_opener(archive: tarfile.TarFile, member: tarfile.TarInfo) -> Callable[[], IO[bytes]]:
    def open_member() -> IO[bytes]:
        stream = archive.extractfile(member)
        return stream if stream is not None else io.BytesIO()

    return open_member


def _inspect_stream(payload: bytes, filename: str, mime: str, findings: _Findings, depth: int) -> None:
    """A gzip, bzip2 or xz stream: decompressed in chunks up to the nested limit, then looked at as one member."""
    limits = findings.limits
    cap = min(limits.nested_max_bytes, findings.budget.read_left)
    data, complete, consumed = decompress_capped(payload, mime, cap)
    capped = len(data) >= cap and not complete
    findings.budget.read_left -= min(len(data), findings.budget.read_left)
    inner = _inner_name(filename)
    if not data and not complete:
        findings.add(ReasonCode.UNREADABLE, Outcome.FLAGGED, f"{mime} stream does not decompress")
        return
    ratio = len(data) // max(consumed, 1)
    if capped and ratio > limits.max_ratio and len(data) > limits.ratio_floor_bytes:
        findings.add(ReasonCode.ARCHIVE_BOMB, Outcome.BLOCKED, f"{inner} expands more than {ratio}:1")
        return
    if capped:
        findings.add(ReasonCode.NOT_INSPECTED, Outcome.FLAGGED, f"{inner}: only its first {_mib(cap)} inspected")
    elif not complete:
        findings.add(ReasonCode.UNREADABLE, Outcome.FLAGGED, f"{mime} stream ends early or is damaged")
    findings.declare(inner, len(data), None)
    if depth + 1 > limits.max_depth:
        findings.add(ReasonCode.TOO_DEEP, Outcome.FLAGGED, f"{inner}: nested deeper than {limits.max_depth}")
        return
    findings.count_entries(1)
    findings.judge_member(
        inner, inspect_part(data, inner, "", findings.policy, depth=depth + 1, budget=findings.budget)
    )


def _inner_name(filename: str) -> str:
    lowered = filename.lower()
    for suffix, replacement in ((".tgz", ".tar"), (".tbz2", ".tar"), (".txz", ".tar")):
        if lowered.endswith(suffix):
            return filename[: -len(suffix)] + replacement
    stem, dot, _ = filename.rpartition(".")
    return stem if dot and stem else f"{filename} (decompressed)"


def decompress_capped(payload: bytes, mime: str, cap: int) -> tuple[bytes, bool, int]:
    """At most `cap` bytes of a gzip/bzip2/xz stream: (output, whether the stream ended, input bytes consumed).

    The decompressor is asked for at most the room left each time (max_length), so a bomb costs `cap` bytes of
    memory and the CPU to produce them, never more. Only the first gzip member is read.
    """
    output: list[bytes] = []
    produced = consumed = 0
    try:
        if mime == "application/gzip":
            inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)  # gzip header and trailer (RFC 1952)
            pending = b""
            position = 0
            while produced <= cap:
                if not pending:
                    if position >= len(payload):
                        break
                    pending = payload[position : position + CHUNK_BYTES]
                    position += len(pending)
                chunk = inflater.decompress(pending, cap + 1 - produced)
                pending = inflater.unconsumed_tail
                output.append(chunk)
                produced += len(chunk)
                if inflater.eof:
                    break
            consumed = position - len(pending) - len(inflater.unused_data)
            ended = inflater.eof
        else:
            decompressor = bz2.BZ2Decompressor() if mime == "application/x-bzip2" else lzma.LZMADecompressor()
            position = 0
            while produced <= cap and not decompressor.eof:
                feed = b""
                if decompressor.needs_input:
                    if position >= len(payload):
                        break
                    feed = payload[position : position + CHUNK_BYTES]
                    position += len(feed)
                chunk = decompressor.decompress(feed, cap + 1 - produced)
                output.append(chunk)
                produced += len(chunk)
            consumed = position
            ended = decompressor.eof
    except (zlib.error, OSError, EOFError, ValueError, lzma.LZMAError):
        return b"".join(output)[:cap], False, consumed
    data = b"".join(output)
    return data[:cap], ended and produced <= cap, consumed


def _inspect_rar(payload: bytes, findings: _Findings) -> None:
    """RAR: the member list only (content would need the non-free unrar): names, sizes, ratios, encryption."""
    try:
        archive = rarfile.RarFile(io.BytesIO(payload))
        if archive.needs_password():
            findings.add(ReasonCode.ENCRYPTED, Outcome.FLAGGED, "RAR with encrypted headers: member list hidden")
            return
        infos = archive.infolist()
    except (rarfile.Error, OSError, EOFError, ValueError) as e:
        findings.add(ReasonCode.UNREADABLE, Outcome.FLAGGED, f"RAR listing unreadable ({type(e).__name__})")
        return
    allowed = findings.count_entries(len(infos))
    encrypted = 0
    for info in infos[:allowed]:
        if info.is_dir():
            continue
        findings.declare(info.filename or "", info.file_size or 0, info.compress_size or 0)
        encrypted += bool(info.needs_password())
        findings.member_by_name(info.filename or "", "RAR members are checked by name")
    if encrypted:
        findings.add(ReasonCode.ENCRYPTED, Outcome.FLAGGED, f"{encrypted} encrypted RAR member(s)")
