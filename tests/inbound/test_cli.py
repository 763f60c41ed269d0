"""The `postroom` command: summaries, one-line errors and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailfactory import build_mail, build_nested_bomb
from postroom.cli import main
from postroom.inbound.models import InboundMessage, InboundStatus


@pytest.mark.django_db
def test_import_prints_a_summary_and_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """GIVEN a folder with two mails, a hostile one and a manifest WHEN imported THEN 2 processed, 1 quarantined."""
    (tmp_path / "a.eml").write_bytes(build_mail())
    (tmp_path / "b.eml").write_bytes(build_mail(subject="second"))
    (tmp_path / "c.eml").write_bytes(build_nested_bomb(3000))
    (tmp_path / "manifest.tsv").write_text("not mail\n")
    assert main(["import", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "3 read" in out and "2 processed" in out and "1 quarantined" in out
    assert main(["import", str(tmp_path)]) == 0
    assert "3 already imported" in capsys.readouterr().out


@pytest.mark.django_db
def test_import_of_a_missing_path_is_one_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """GIVEN a path that does not exist WHEN imported THEN one line on stderr naming it, exit code 1."""
    assert main(["import", str(tmp_path / "nope.eml")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.eml" in err[0] and "no such file" in err[0]


@pytest.mark.django_db
def test_import_of_an_mbox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """GIVEN an mbox with three messages WHEN imported THEN three messages are read."""
    box = tmp_path / "mail.mbox"
    with box.open("wb") as fh:
        for i in range(3):
            fh.write(b"From sender@example.org Mon Nov  2 09:30:00 2026\n")
            fh.write(build_mail(subject=f"mbox {i}").replace(b"\r\n", b"\n") + b"\n")
    assert main(["import", str(box)]) == 0
    assert "3 read" in capsys.readouterr().out
    assert InboundMessage.objects.filter(status=InboundStatus.PROCESSED).count() == 3


@pytest.mark.django_db
def test_replay_of_unknown_and_processed_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """GIVEN one processed message WHEN replaying it and an unknown id THEN one line each and exit 1."""
    (tmp_path / "a.eml").write_bytes(build_mail())
    main(["import", str(tmp_path)])
    capsys.readouterr()
    row = InboundMessage.objects.get()
    assert main(["replay", str(row.pk), "999999"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2
    assert "already processed" in err[0] and "999999" in err[1]


@pytest.mark.django_db
def test_replay_of_a_quarantined_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """GIVEN a quarantined message WHEN replayed THEN the status is printed and the exit code is 0."""
    (tmp_path / "a.eml").write_bytes(b"Subject: nobody sent this\r\n\r\nhello\r\n")
    main(["import", str(tmp_path)])
    row = InboundMessage.objects.get()
    capsys.readouterr()
    assert main(["replay", str(row.pk)]) == 0
    assert capsys.readouterr().out.strip() == f"{row.pk}: quarantined (malformed)"


def test_inspect_needs_no_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """GIVEN a mail file WHEN inspected THEN one JSON object with the stable keys."""
    import json

    path = tmp_path / "a.eml"
    path.write_bytes(build_mail(subject="Grüße"))
    assert main(["inspect", str(path)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["subject"] == "Grüße"
    assert record["from"] == {"name": "Jane Doe", "address": "jane.doe@example.org"}


def test_bad_configuration_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """GIVEN an invalid POSTROOM_MODE WHEN the settings are loaded THEN a ConfigError names the variable."""
    from postroom.conf.env import ConfigError, load_settings

    with pytest.raises(ConfigError, match="POSTROOM_MODE"):
        load_settings({"POSTROOM_MODE": "cluster", "POSTROOM_SECRET_KEY": "x"})
    with pytest.raises(ConfigError, match="POSTROOM_DATABASE_URL"):
        load_settings({"POSTROOM_DATABASE_URL": "mysql://x", "POSTROOM_SECRET_KEY": "x"})


@pytest.mark.django_db
def test_import_of_a_maildir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """GIVEN a Maildir with mail in new/ and cur/ WHEN imported THEN every message is read once."""
    import mailbox

    box = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    for i in range(3):
        box.add(build_mail(subject=f"maildir {i}"))
    box.close()
    assert main(["import", str(tmp_path / "Maildir")]) == 0
    assert "3 read" in capsys.readouterr().out
    assert InboundMessage.objects.filter(status=InboundStatus.PROCESSED).count() == 3
