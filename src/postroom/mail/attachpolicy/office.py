"""What an OLE compound file (MS-CFB) holds: VBA macros, an installer, encryption; read with olefile.

olefile reads only the file's directory here, no stream content, so the cost grows with the number of streams,
not their size. The storage names are those oletools' olevba looks for (docs/adr/0012-attachment-inspection.md):
Word keeps its project under `Macros/VBA`, Excel under `_VBA_PROJECT_CUR/VBA`, PowerPoint and others under `VBA`;
every VBA storage has a `dir` stream (MS-OVBA 2.3.4.1). An encrypted OOXML document is an OLE file with
`EncryptionInfo` and `EncryptedPackage` streams (MS-OFFCRYPTO 2.3.4).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Final

import olefile

# Root storage class ids of Windows Installer files (MS-MSI: package, patch, transform).
MSI_CLSIDS: Final = frozenset(
    {
        "000C1084-0000-0000-C000-000000000046",
        "000C1086-0000-0000-C000-000000000046",
        "000C1082-0000-0000-C000-000000000046",
    }
)
_MACRO_ROOTS: Final = frozenset({"_vba_project_cur", "_vba_project", "macros"})  # top storages of VBA projects
_MINIMAL_OLE_BYTES: Final = 1536  # olefile's MINIMAL_OLEFILE_SIZE: a header and two sectors


@dataclass(frozen=True, slots=True)
class OleContents:
    readable: bool
    installer: bool = False
    macros: bool = False
    encrypted: bool = False
    detail: str = ""


def read_ole_contents(payload: bytes) -> OleContents:  # noqa: PLR0911 (one answer per finding)
    """The parts of an OLE file's directory the policy cares about; `readable` False when it does not parse."""
    if len(payload) < _MINIMAL_OLE_BYTES:
        return OleContents(readable=False, detail="too short for an OLE compound file")
    try:
        ole = olefile.OleFileIO(payload)
    except Exception as e:  # olefile raises OSError, ValueError, IndexError, struct.error on garbage
        return OleContents(readable=False, detail=f"OLE directory unreadable ({type(e).__name__})")
    try:
        paths = [[name.lower() for name in path] for path in ole.listdir(streams=True, storages=True)]
        clsid = str(ole.root.clsid or "").upper() if ole.root is not None else ""
    except Exception as e:  # the same on a damaged directory
        return OleContents(readable=False, detail=f"OLE directory unreadable ({type(e).__name__})")
    finally:
        with contextlib.suppress(Exception):
            ole.close()
    streams = {"/".join(path) for path in paths}
    vba = sorted("/".join(path[:-1]) for path in paths if path[-1] == "dir" and len(path) > 1 and path[-2] == "vba")
    macros = bool(vba) or any(path[0] in _MACRO_ROOTS for path in paths)
    encrypted = {"encryptioninfo", "encryptedpackage"} <= streams
    if clsid in MSI_CLSIDS:
        return OleContents(readable=True, installer=True, detail="Windows Installer package (OLE root class id)")
    if macros:
        where = vba[0] if vba else next(path[0] for path in paths if path[0] in _MACRO_ROOTS)
        return OleContents(readable=True, macros=True, encrypted=encrypted, detail=f"VBA storage {where}")
    if encrypted:
        return OleContents(readable=True, encrypted=True, detail="encrypted Office document (EncryptedPackage)")
    return OleContents(readable=True, detail="OLE compound file without macros")
