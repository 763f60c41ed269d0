"""Content-addressed blob store on the file system: a blob's name is the SHA-256 of its bytes.

Writes are idempotent (same bytes, same path) and atomic (temp file, fsync, rename, fsync of the directory), so a
blob can be written before the database transaction that refers to it commits: a crash leaves at worst an
unreferenced blob, never a committed ledger row whose raw bytes' name was lost with the directory entry.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


class BlobNotFoundError(LookupError):
    pass


class FileBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes, *, durable: bool = True, digest: str | None = None) -> str:
        """Store `data`; `durable=False` skips the fsync for content that can be derived again from a durable
        blob (attachments are re-extractable from their raw message), which saves a disk flush per part."""
        digest = digest or hashlib.sha256(data).hexdigest()
        path = self.path_for(digest)
        if path.exists():
            return digest
        created_dirs = self._make_dirs(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                if durable:
                    fh.flush()
                    os.fsync(fh.fileno())
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if durable:  # the rename (and any new directory) is only durable once its directory is synced
            for directory in (path.parent, *(d.parent for d in created_dirs)):
                sync_directory(directory)
        return digest

    @staticmethod
    def _make_dirs(directory: Path) -> list[Path]:
        """mkdir -p, returning the directories it created (outermost last), whose parents need an fsync too."""
        created: list[Path] = []
        while not directory.is_dir():
            created.append(directory)
            directory = directory.parent
        for new in reversed(created):
            new.mkdir(exist_ok=True)
        return created

    def get(self, sha256: str) -> bytes:
        try:
            return self.path_for(sha256).read_bytes()
        except FileNotFoundError:
            raise BlobNotFoundError(sha256) from None

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()


def sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def get_blob_store() -> FileBlobStore:
    from django.conf import settings

    return FileBlobStore(settings.POSTROOM.blob_dir)
