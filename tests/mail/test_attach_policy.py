"""The attachment policy (postroom.mail.attachpolicy): real types from bytes, archives looked into within bounds,
executables and macro documents blocked, size and count limits, and the note that replaces a stripped part."""

from __future__ import annotations

import dataclasses
import tracemalloc

import pytest
from test_attach_samples import (
    MSI_CLSID,
    PDF,
    PNG,
    build_declared_bomb,
    build_docm,
    build_docx,
    build_encrypted_zip,
    build_gzip_bomb,
    build_nested_zip,
    build_ole,
    build_pe,
    build_tar_gz,
    build_zip,
)

from postroom.mail.attachpolicy import (
    AttachmentPolicy,
    Family,
    Outcome,
    ReasonCode,
    build_removal_note,
    detect_attachment_verdicts,
    detect_part_verdict,
)
from postroom.mail.values import MIB, ParsedAttachment

POLICY = AttachmentPolicy()


def _codes(payload: bytes, filename: str, declared: str = "application/octet-stream", **policy: object) -> set[str]:
    verdict = detect_part_verdict(payload, filename, declared, dataclasses.replace(POLICY, **policy))  # type: ignore[arg-type]
    return {f"{reason.outcome}:{reason.code}" for reason in verdict.reasons}


def test_ordinary_files_are_ok() -> None:
    """GIVEN a PDF, a PNG, a DOCX, a plain OLE document, a CSV and a zip of those WHEN judged THEN all are ok."""
    plain_doc = build_ole(["ObjectPool"], stream="WordDocument")
    samples = {
        "report.pdf": (PDF, "application/pdf"),
        "logo.png": (PNG, "image/png"),
        "letter.docx": (build_docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        "old.doc": (plain_doc, "application/msword"),
        "table.csv": (b"a;b\n1;2\n", "text/csv"),
        "bundle.zip": (build_zip({"a.pdf": PDF, "b.png": PNG, "c.docx": build_docx()}), "application/zip"),
    }
    for name, (payload, declared) in samples.items():
        verdict = detect_part_verdict(payload, name, declared, POLICY)
        assert verdict.outcome is Outcome.OK, verdict.describe()


def test_an_executable_named_as_a_pdf_is_blocked_and_the_lie_flagged() -> None:
    """GIVEN a PE file named invoice.pdf and declared application/pdf WHEN judged THEN blocked, with a mismatch."""
    verdict = detect_part_verdict(build_pe(), "invoice.pdf", "application/pdf", POLICY)
    assert verdict.outcome is Outcome.BLOCKED and verdict.evidence.family is Family.EXECUTABLE
    assert verdict.evidence.detail == "PE header" and verdict.evidence.extension == "pdf"
    assert {reason.code for reason in verdict.reasons} == {ReasonCode.BLOCKED_FAMILY, ReasonCode.TYPE_MISMATCH}
    assert "named .pdf" in verdict.describe()


@pytest.mark.parametrize("name", ["invoice.js", "run.vbs", "setup.ps1", "go.bat", "go.cmd", "app.hta", "x.pdf.jse"])
def test_windows_scripts_are_executables_by_their_name(name: str) -> None:
    """GIVEN a text part named like a script Windows runs WHEN judged THEN blocked as an executable."""
    assert _codes(b"WScript.Echo('hello');\r\n", name) == {"blocked:blocked_family"}


def test_shortcuts_disk_images_elf_macho_and_msi_are_executables() -> None:
    """GIVEN a .lnk header, an ISO 9660 image, ELF, Mach-O and an MSI (by its OLE class id) WHEN judged THEN
    each is blocked as an executable, whatever it is named."""
    lnk = bytes.fromhex("4c0000000114020000000000c000000000000046") + b"\x00" * 60
    iso = b"\x00" * 0x8001 + b"CD001" + b"\x00" * 100
    samples = {
        "photo.jpg": lnk,
        "disk.dat": iso,
        "tool": b"\x7fELF\x02\x01\x01" + b"\x00" * 60,
        "app": b"\xcf\xfa\xed\xfe" + b"\x00" * 60,
        "setup.bin": build_ole(["x"], stream="y", root_clsid=MSI_CLSID),
    }
    for name, payload in samples.items():
        verdict = detect_part_verdict(payload, name, "application/octet-stream", POLICY)
        assert verdict.evidence.family is Family.EXECUTABLE and verdict.outcome is Outcome.BLOCKED, name


def test_macro_documents_are_found_in_ooxml_and_ole() -> None:
    """
    GIVEN a .docm (vbaProject.bin) renamed .docx, and an OLE .doc with a Macros/VBA storage
    WHEN judged THEN both are macro documents, blocked by default and only flagged when the policy allows them
    """
    docm = detect_part_verdict(build_docm(), "offer.docx", "application/octet-stream", POLICY)
    assert docm.evidence.family is Family.MACRO_DOCUMENT and docm.evidence.detail == "OOXML with vbaProject.bin"
    ole = detect_part_verdict(build_ole(["Macros", "VBA"], stream="dir"), "old.doc", "application/msword", POLICY)
    assert ole.evidence.family is Family.MACRO_DOCUMENT and "VBA storage" in ole.evidence.detail
    assert docm.outcome is ole.outcome is Outcome.BLOCKED
    assert _codes(build_docm(), "offer.docm", blocked=frozenset({Family.EXECUTABLE})) == {"flagged:risky_family"}


def test_a_zip_declaring_ten_gigabytes_is_a_bomb_read_from_its_directory() -> None:
    """
    GIVEN a zip whose directory declares one 10 GiB member over a few kilobytes of deflated zeros
    WHEN judged THEN blocked as an archive bomb (total size and ratio), with no member decompressed
    """
    bomb = build_declared_bomb()
    tracemalloc.start()
    try:
        verdict = detect_part_verdict(bomb, "photos.zip", "application/zip", POLICY)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert verdict.outcome is Outcome.BLOCKED
    details = [reason.detail for reason in verdict.reasons if reason.code is ReasonCode.ARCHIVE_BOMB]
    assert any("declares more than" in detail for detail in details) and any("expands" in detail for detail in details)
    assert peak < 4 * MIB  # the directory only


def test_a_gzip_bomb_is_stopped_by_the_streaming_cap() -> None:
    """
    GIVEN a gzip stream of 200 MiB of zeros (no directory to read sizes from)
    WHEN judged THEN blocked as a bomb after decompressing no more than the nested limit, memory bounded by it
    """
    bomb = build_gzip_bomb()
    tracemalloc.start()
    try:
        verdict = detect_part_verdict(bomb, "logs.gz", "application/gzip", POLICY)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert verdict.outcome is Outcome.BLOCKED and verdict.reasons[0].code is ReasonCode.ARCHIVE_BOMB
    assert peak < 4 * POLICY.archive.nested_max_bytes


def test_overlapping_zip_members_are_a_bomb() -> None:
    """GIVEN a zip whose two directory entries point at the same data (Fifield's overlap) THEN blocked as a bomb."""
    single = build_zip({"a.txt": b"x" * 1000})
    local_end = single.index(b"PK\x01\x02")
    central = single[local_end : single.index(b"PK\x05\x06")]
    twice = central + central.replace(b"a.txt", b"b.txt")
    end = single[single.index(b"PK\x05\x06") :]
    end = end[:8] + (2).to_bytes(2, "little") * 2 + len(twice).to_bytes(4, "little") + end[16:]
    verdict = detect_part_verdict(single[:local_end] + twice + end, "x.zip", "application/zip", POLICY)
    assert ReasonCode.ARCHIVE_BOMB in {reason.code for reason in verdict.reasons}


def test_nested_archives_are_opened_to_the_depth_limit() -> None:
    """
    GIVEN an executable three zips deep, and another five zips deep
    WHEN judged THEN the first is blocked for what it holds (with the path); the second is flagged too deep
    """
    shallow = detect_part_verdict(build_nested_zip(build_pe(), "tool.exe", 3), "a.zip", "application/zip", POLICY)
    assert shallow.outcome is Outcome.BLOCKED
    [inside] = [reason for reason in shallow.reasons if reason.code is ReasonCode.BLOCKED_INSIDE]
    assert inside.detail.startswith("level1.zip: level0.zip: tool.exe: executable")
    deep = detect_part_verdict(build_nested_zip(build_pe(), "tool.exe", 5), "a.zip", "application/zip", POLICY)
    assert deep.outcome is Outcome.FLAGGED and ReasonCode.TOO_DEEP in {reason.code for reason in deep.reasons}


def test_encrypted_zips_are_flagged_and_their_member_names_still_judged() -> None:
    """
    GIVEN a password-protected zip of a text file, and one holding invoice.exe
    WHEN judged THEN the first is flagged as encrypted; the second blocked by its member's name
    """
    assert _codes(build_encrypted_zip({"notes.txt": b"hi"}), "a.zip") == {"flagged:encrypted"}
    assert _codes(build_encrypted_zip({"invoice.exe": build_pe()}), "a.zip") == {
        "flagged:encrypted",
        "blocked:blocked_inside",
    }


def test_tar_gz_members_are_sniffed() -> None:
    """GIVEN a .tar.gz holding a PE named report.txt THEN blocked for the member (its bytes, not its name)."""
    verdict = detect_part_verdict(build_tar_gz({"report.txt": build_pe(), "a.txt": b"hi"}), "x.tgz", "", POLICY)
    assert verdict.outcome is Outcome.BLOCKED
    assert any("report.txt: executable (PE header)" in reason.detail for reason in verdict.reasons)


def test_too_many_entries_are_flagged() -> None:
    """GIVEN a zip of 50 files and a limit of 20 entries THEN flagged: only the first 20 were looked at."""
    archive = build_zip({f"f{index}.txt": b"hello" for index in range(50)})
    limits = dataclasses.replace(POLICY.archive, max_entries=20)
    assert _codes(archive, "many.zip", archive=limits) == {"flagged:too_many_entries"}


def test_size_and_count_limits_block_without_opening_the_part() -> None:
    """
    GIVEN a message of four parts, a policy of at most 3 parts and 1 KiB each, and a 2 KiB part among them
    WHEN judged THEN the large part is blocked too_large, the fourth too_many; both count as size-only verdicts
    """
    parts = [
        ParsedAttachment(name, "application/pdf", None, len(data), "", "", False, None, data)
        for name, data in (("a.pdf", PDF), ("big.pdf", PDF + b"0" * 2048), ("c.pdf", PDF), ("d.pdf", PDF))
    ]
    report = detect_attachment_verdicts(parts, dataclasses.replace(POLICY, max_bytes=1024, max_count=3))
    assert [verdict.outcome for verdict in report.verdicts] == ["ok", "blocked", "ok", "blocked"]
    assert report.verdicts[1].reasons[0].code is ReasonCode.TOO_LARGE
    assert report.verdicts[3].reasons[0].code is ReasonCode.TOO_MANY
    assert all(verdict.is_size_only for verdict in report.blocked)


def test_the_removal_note_names_the_file_and_why() -> None:
    """GIVEN a blocked part WHEN its note is built THEN it names the file, the reason and that the raw is kept."""
    verdict = detect_part_verdict(build_pe(), "invoice.pdf", "application/pdf", POLICY)
    note = build_removal_note(verdict)
    assert '"invoice.pdf"' in note and "executable: PE header" in note and "kept unchanged" in note


def test_garbage_that_claims_a_container_format_is_flagged_not_crashed() -> None:
    """GIVEN truncated zip, gzip and OLE data WHEN judged THEN each gets a verdict (flagged unreadable or ok)."""
    for name, payload in (
        ("a.zip", build_zip({"a.txt": b"x" * 100})[:40]),
        ("b.gz", build_gzip_bomb(1024 * 1024)[:30]),
        ("c.doc", build_ole(["Macros", "VBA"], stream="dir")[:1200]),
    ):
        verdict = detect_part_verdict(payload, name, "", POLICY)
        assert verdict.outcome in {Outcome.OK, Outcome.FLAGGED}, verdict.describe()
