"""A local stand-in for an on-premises Exchange 2019 EWS endpoint: the SOAP operations Postroom's EWS connector sends.

Served over HTTPS (a CA made per run) at /EWS/Exchange.asmx, one thread per connection, keep-alive as IIS does.
Answers are shaped like Exchange 2016/2019 ones (the ServerVersionInfo header, ResponseMessages with ResponseClass
and ResponseCode, SOAP faults with the errors namespace detail):

- GetFolder / FindFolder (Shallow): the distinguished folders root, msgfolderroot, inbox, deleteditems, junkemail,
  sentitems and any subfolder a test adds;
- SyncFolderItems: Create / Delete / ReadFlagChange since a SyncState (an opaque base64 gzip blob, as Exchange's),
  at most MaxChangesReturned per answer with IncludesLastItemInRange false while more follow;
- GetItem (MimeContent base64, DateTimeReceived), UpdateItem (IsRead), MoveItem (a new ItemId, as Exchange 2010 SP1
  and later return), DeleteItem (MoveToDeletedItems, SoftDelete, HardDelete); each is recorded;
- logins: HTTP basic or a bearer token; anything else is HTTP 401 with the WWW-Authenticate headers IIS sends;
- ExchangeImpersonation header: allowed per login and mailbox, otherwise the ErrorImpersonateUserDenied fault;
  a delegate (a folder id naming another mailbox) needs full access, otherwise ErrorAccessDenied;
- `throttle(...)`: the next matching requests get the ErrorServerBusy fault with BackOffMilliseconds.

Every request is recorded with its monotonic arrival time, login, impersonated address and operation.
"""

from __future__ import annotations

import base64
import gzip
import http.server
import json
import os
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from xml.sax.saxutils import escape

from lxml import etree

from testpki import issue_server_cert, make_ca, write_pem

HOST: Final = "127.0.0.1"
PATH: Final = "/EWS/Exchange.asmx"
S: Final = "http://schemas.xmlsoap.org/soap/envelope/"
M: Final = "http://schemas.microsoft.com/exchange/services/2006/messages"
T: Final = "http://schemas.microsoft.com/exchange/services/2006/types"
E: Final = "http://schemas.microsoft.com/exchange/services/2006/errors"
NS: Final = {"s": S, "m": M, "t": T}
# Exchange Server 2019 CU14; 2016 and 2019 answer Version="V2017_07_11" (not a valid request version; clients ignore it)
SERVER_VERSION: Final = (
    '<h:ServerVersionInfo MajorVersion="15" MinorVersion="2" MajorBuildNumber="1544" MinorBuildNumber="4" '
    f'Version="V2017_07_11" xmlns:h="{T}" xmlns="{T}" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"/>'
)
DISTINGUISHED: Final = {
    "root": ("", "Root"),
    "msgfolderroot": ("root", "Top of Information Store"),
    "inbox": ("msgfolderroot", "Inbox"),
    "deleteditems": ("msgfolderroot", "Deleted Items"),
    "junkemail": ("msgfolderroot", "Junk Email"),
    "sentitems": ("msgfolderroot", "Sent Items"),
}


def _new_id(prefix: str = "AAMkADZmMjE3") -> str:
    """An id shaped like Exchange's: long standard base64 (with + / =), ~150 characters."""
    return prefix + base64.b64encode(os.urandom(104)).decode()


def _change_key() -> str:
    return "CQAAABYAAAA" + base64.b64encode(os.urandom(15)).decode()


@dataclass
class StoredItem:
    item_id: str
    change_key: str
    raw: bytes
    is_read: bool = False
    received: str = "2026-11-27T10:00:00Z"


@dataclass
class StoredFolder:
    folder_id: str
    change_key: str
    parent_id: str
    name: str
    distinguished: str = ""
    items: dict[str, StoredItem] = field(default_factory=dict)
    events: list[tuple[int, str, str]] = field(default_factory=list)  # (sequence, Create|Delete|ReadFlagChange, id)


@dataclass(frozen=True)
class Recorded:
    at: float  # time.monotonic() when the request arrived
    operation: str
    login: str
    impersonating: str
    status: int
    items: int = 0  # ItemIds in the request (GetItem, UpdateItem, MoveItem, DeleteItem)


class ExchangeStore:
    """Mailboxes, folders and items; every change is an event with a sequence number (what SyncState counts)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.sequence = 0
        self.folders: dict[str, dict[str, StoredFolder]] = {}  # mailbox -> folder id -> folder

    def ensure_mailbox(self, address: str) -> dict[str, StoredFolder]:
        with self.lock:
            if address.lower() not in self.folders:
                folders: dict[str, StoredFolder] = {}
                ids: dict[str, str] = {}
                for name, (parent, display) in DISTINGUISHED.items():
                    ids[name] = _new_id("AQMkADZmMjE3")
                    folders[ids[name]] = StoredFolder(ids[name], _change_key(), ids.get(parent, ""), display, name)
                self.folders[address.lower()] = folders
            return self.folders[address.lower()]

    def find_folder(self, address: str, distinguished: str = "", folder_id: str = "") -> StoredFolder | None:
        for folder in self.ensure_mailbox(address).values():
            if (distinguished and folder.distinguished == distinguished) or (
                folder_id and folder.folder_id == folder_id
            ):
                return folder
        return None

    def add_folder(self, address: str, name: str, parent: str = "inbox") -> StoredFolder:
        with self.lock:
            above = self.find_folder(address, distinguished=parent)
            assert above is not None
            folder = StoredFolder(_new_id("AQMkADZmMjE3"), _change_key(), above.folder_id, name)
            self.ensure_mailbox(address)[folder.folder_id] = folder
            return folder

    def event(self, folder: StoredFolder, kind: str, item_id: str) -> None:
        self.sequence += 1
        folder.events.append((self.sequence, kind, item_id))

    def deliver(self, address: str, raws: list[bytes], folder: str = "inbox") -> list[str]:
        """Put messages into a folder (as transport delivery would); their new item ids."""
        with self.lock:
            target = self.find_folder(address, distinguished=folder)
            if target is None:
                target = next(f for f in self.ensure_mailbox(address).values() if f.name.lower() == folder.lower())
            ids = []
            for raw in raws:
                item = StoredItem(_new_id(), _change_key(), raw)
                target.items[item.item_id] = item
                self.event(target, "Create", item.item_id)
                ids.append(item.item_id)
            return ids

    def locate(self, address: str, item_id: str) -> tuple[StoredFolder, StoredItem] | None:
        for folder in self.ensure_mailbox(address).values():
            if item_id in folder.items:
                return folder, folder.items[item_id]
        return None

    def names_in(self, address: str, folder_name: str) -> list[str]:
        """The subjects of the items in a folder (found by display name)."""
        with self.lock:
            for folder in self.ensure_mailbox(address).values():
                if folder.name.lower() == folder_name.lower():
                    return [_subject(item.raw) for item in folder.items.values()]
            return []


def _subject(raw: bytes) -> str:
    for line in raw.split(b"\r\n"):
        if line.lower().startswith(b"subject:"):
            return line.split(b":", 1)[1].strip().decode()
    return ""


def encode_state(folder_id: str, sequence: int) -> str:
    """An opaque SyncState like Exchange's (base64 of a gzip blob: H4sI...)."""
    return base64.b64encode(gzip.compress(json.dumps([folder_id, sequence]).encode(), mtime=0)).decode()


def decode_state(state: str) -> tuple[str, int]:
    folder_id, sequence = json.loads(gzip.decompress(base64.b64decode(state)))
    return str(folder_id), int(sequence)


class SoapFaultError(Exception):
    def __init__(self, code: str, text: str, back_off_ms: int | None = None) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.back_off_ms = back_off_ms


class EwsStandin:
    """The server: `users` (login -> password), `tokens` (bearer -> login), `impersonation` (login -> addresses it may
    impersonate), `full_access` (login -> other mailboxes it may open as a delegate)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = ExchangeStore()
        self.users: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        self.impersonation: dict[str, set[str]] = {}
        self.full_access: dict[str, set[str]] = {}
        self.requests: list[Recorded] = []
        self.updates: list[tuple[str, str, bool]] = []  # (mailbox, item id, IsRead)
        self.moves: list[tuple[str, str, str]] = []  # (mailbox, item id, target folder name)
        self.deletes: list[tuple[str, str, str]] = []  # (mailbox, item id, DeleteType)
        self._throttles: list[list[object]] = []  # [operation or "", back-off ms, remaining]
        self._lock = threading.Lock()
        ca_key, ca_cert = make_ca("Postroom EWS Test CA")
        cert, key = issue_server_cert(ca_key, ca_cert, ["localhost", HOST], root, stem="ews")
        self.ca_file = write_pem(root / "ews-ca.pem", ca_cert)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.server = http.server.ThreadingHTTPServer((HOST, 0), _handler_for(self))
        self.server.daemon_threads = True
        self.server.socket = self.context.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        self.url = f"https://{HOST}:{self.port}{PATH}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="ews-standin", daemon=True)

    def add_user(self, login: str, password: str) -> None:
        self.users[login.lower()] = password
        self.store.ensure_mailbox(login)

    def throttle(self, back_off_ms: int, *, operation: str = "", times: int = 1) -> None:
        """The next `times` requests (of `operation`, or any) get ErrorServerBusy asking for `back_off_ms`."""
        with self._lock:
            self._throttles.append([operation, back_off_ms, times])

    def requests_of(self, operation: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.operation == operation]

    def start(self) -> EwsStandin:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- request handling ---------------------------------------------------------------------------------------

    def authenticate(self, header: str) -> str | None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            login, _, password = base64.b64decode(value).decode().partition(":")
            return login.lower() if self.users.get(login.lower()) == password and password else None
        if scheme.lower() == "bearer":
            return self.tokens.get(value.strip())
        return None

    def take_throttle(self, operation: str) -> int | None:
        with self._lock:
            for entry in self._throttles:
                wanted, back_off, remaining = entry
                if (not wanted or wanted == operation) and isinstance(remaining, int) and remaining > 0:
                    entry[2] = remaining - 1
                    return int(str(back_off))
        return None

    def record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def answer(self, login: str, body: bytes) -> tuple[str, str, str]:
        """(operation, impersonated address, response XML); raises SoapFaultError."""
        envelope = etree.fromstring(body)
        impersonated = envelope.findtext(".//t:ExchangeImpersonation/t:ConnectingSID/t:PrimarySmtpAddress", None, NS)
        impersonated = (impersonated or envelope.findtext(".//t:ConnectingSID/t:SmtpAddress", "", NS) or "").lower()
        request = envelope.find("s:Body", NS)[0]
        operation = etree.QName(request).localname
        back_off = self.take_throttle(operation)
        if back_off is not None:
            raise SoapFaultError(
                "ErrorServerBusy", "The server cannot service this request right now. Try again later.", back_off
            )
        if impersonated and impersonated not in self.impersonation.get(login, set()):
            raise SoapFaultError(
                "ErrorImpersonateUserDenied", "The account does not have permission to impersonate the requested user."
            )
        handler = {
            "GetFolder": self.answer_get_folder,
            "FindFolder": self.answer_find_folder,
            "SyncFolderItems": self.answer_sync_folder_items,
            "GetItem": self.answer_get_item,
            "UpdateItem": self.answer_update_item,
            "MoveItem": self.answer_move_item,
            "DeleteItem": self.answer_delete_item,
        }.get(operation)
        if handler is None:
            raise SoapFaultError(
                "ErrorInvalidRequest", f"The request is invalid ({operation} is not served by the stand-in)."
            )
        with self.store.lock:
            return operation, impersonated, handler(request, login, impersonated)

    def mailbox_for(self, element: etree._Element, login: str, impersonated: str) -> str:
        """Whose mailbox a folder id points at; raises when a delegate lacks full access."""
        named = element.findtext("t:Mailbox/t:EmailAddress", "", NS).lower()
        mailbox = named or impersonated or login
        if not impersonated and mailbox != login and mailbox not in self.full_access.get(login, set()):
            raise PermissionError(mailbox)
        if impersonated and named and named != impersonated:
            raise PermissionError(mailbox)
        return mailbox

    def folder_from(self, holder: etree._Element, login: str, impersonated: str) -> tuple[str, StoredFolder | None]:
        element = holder.find("t:DistinguishedFolderId", NS)
        if element is not None:
            mailbox = self.mailbox_for(element, login, impersonated)
            return mailbox, self.store.find_folder(mailbox, distinguished=element.get("Id", ""))
        element = holder.find("t:FolderId", NS)
        assert element is not None
        mailbox = impersonated or login
        for address, folders in self.store.folders.items():
            if element.get("Id") in folders:
                mailbox = address
        if mailbox != (impersonated or login) and mailbox not in self.full_access.get(login, set()):
            raise PermissionError(mailbox)
        return mailbox, self.store.find_folder(mailbox, folder_id=element.get("Id", ""))

    def answer_get_folder(self, request: etree._Element, login: str, impersonated: str) -> str:
        messages = []
        for holder in _each_id(request.find("m:FolderIds", NS)):
            try:
                _, folder = self.folder_from(holder, login, impersonated)
            except PermissionError:
                messages.append(
                    _error("GetFolder", "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
                )
                continue
            if folder is None:
                messages.append(
                    _error("GetFolder", "ErrorFolderNotFound", "The specified folder could not be found in the store.")
                )
                continue
            messages.append(_ok("GetFolder", f"<m:Folders>{self.folder_xml(folder)}</m:Folders>"))
        return _response("GetFolder", "".join(messages))

    def answer_find_folder(self, request: etree._Element, login: str, impersonated: str) -> str:
        messages = []
        for holder in _each_id(request.find("m:ParentFolderIds", NS)):
            try:
                mailbox, parent = self.folder_from(holder, login, impersonated)
            except PermissionError:
                messages.append(
                    _error("FindFolder", "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
                )
                continue
            assert parent is not None
            children = [f for f in self.store.ensure_mailbox(mailbox).values() if f.parent_id == parent.folder_id]
            inner = "".join(self.folder_xml(f) for f in children)
            messages.append(
                _ok(
                    "FindFolder",
                    f'<m:RootFolder IndexedPagingOffset="{len(children)}" TotalItemsInView="{len(children)}" '
                    f'IncludesLastItemInRange="true"><t:Folders>{inner}</t:Folders></m:RootFolder>',
                )
            )
        return _response("FindFolder", "".join(messages))

    def folder_xml(self, folder: StoredFolder) -> str:
        parent = f'<t:ParentFolderId Id="{folder.parent_id}" ChangeKey="AQAAAA=="/>' if folder.parent_id else ""
        folder_class = "" if folder.distinguished in {"root"} else "<t:FolderClass>IPF.Note</t:FolderClass>"
        unread = sum(not item.is_read for item in folder.items.values())
        return (
            f'<t:Folder><t:FolderId Id="{folder.folder_id}" ChangeKey="{folder.change_key}"/>{parent}{folder_class}'
            f"<t:DisplayName>{escape(folder.name)}</t:DisplayName><t:TotalCount>{len(folder.items)}</t:TotalCount>"
            f"<t:ChildFolderCount>0</t:ChildFolderCount><t:UnreadCount>{unread}</t:UnreadCount></t:Folder>"
        )

    def answer_sync_folder_items(self, request: etree._Element, login: str, impersonated: str) -> str:
        try:
            _, folder = self.folder_from(request.find("m:SyncFolderId", NS), login, impersonated)
        except PermissionError:
            return _response("SyncFolderItems", _error("SyncFolderItems", "ErrorAccessDenied", "Access is denied."))
        assert folder is not None
        state = request.findtext("m:SyncState", "", NS)
        since = 0
        if state:
            try:
                state_folder, since = decode_state(state)
            except (ValueError, OSError, EOFError):  # not base64, not gzip, cut short, not JSON
                state_folder = ""
            if state_folder != folder.folder_id:
                return _response(
                    "SyncFolderItems",
                    _error(
                        "SyncFolderItems",
                        "ErrorInvalidSyncStateData",
                        "Synchronization state data is corrupt or otherwise invalid.",
                        "<m:SyncState/><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange>",
                    ),
                )
        limit = int(request.findtext("m:MaxChangesReturned", "100", NS))
        pending = [event for event in folder.events if event[0] > since]
        page, rest = pending[:limit], pending[limit:]
        changes = []
        for _, kind, item_id in page:
            item = folder.items.get(item_id)
            if kind == "Create" and item is not None:
                changes.append(f"<t:Create><t:Message>{_item_id(item_id, item.change_key)}</t:Message></t:Create>")
            elif kind == "Delete":
                changes.append(f'<t:Delete><t:ItemId Id="{item_id}" ChangeKey="AAAAAA=="/></t:Delete>')
            elif kind == "ReadFlagChange" and item is not None:
                read = "true" if item.is_read else "false"
                flag = f"{_item_id(item_id, item.change_key)}<t:IsRead>{read}</t:IsRead>"
                changes.append(f"<t:ReadFlagChange>{flag}</t:ReadFlagChange>")
        upto = page[-1][0] if page else since
        body = (
            f"<m:SyncState>{encode_state(folder.folder_id, upto)}</m:SyncState>"
            f"<m:IncludesLastItemInRange>{'false' if rest else 'true'}</m:IncludesLastItemInRange>"
            f"<m:Changes>{''.join(changes)}</m:Changes>"
        )
        return _response("SyncFolderItems", _ok("SyncFolderItems", body))

    def answer_get_item(self, request: etree._Element, login: str, impersonated: str) -> str:
        mailbox = impersonated or login
        wanted = {uri.get("FieldURI") for uri in request.iterfind(".//t:FieldURI", NS)}
        messages = []
        for element in request.find("m:ItemIds", NS):
            found = self._locate_any(mailbox, login, element.get("Id", ""))
            if found is None:
                messages.append(
                    _error(
                        "GetItem",
                        "ErrorItemNotFound",
                        "The specified object was not found in the store., "
                        "The process failed to get the correct properties.",
                        "<m:Items/>",
                    )
                )
                continue
            _, item = found
            mime = (
                f'<t:MimeContent CharacterSet="UTF-8">{base64.b64encode(item.raw).decode()}</t:MimeContent>'
                if "item:MimeContent" in wanted
                else ""
            )
            received = (
                f"<t:DateTimeReceived>{item.received}</t:DateTimeReceived>" if "item:DateTimeReceived" in wanted else ""
            )
            read = f"<t:IsRead>{'true' if item.is_read else 'false'}</t:IsRead>" if "message:IsRead" in wanted else ""
            messages.append(
                _ok(
                    "GetItem",
                    _items(f"{mime}{_item_id(item.item_id, item.change_key)}{received}{read}"),
                )
            )
        return _response("GetItem", "".join(messages))

    def _locate_any(self, mailbox: str, login: str, item_id: str) -> tuple[StoredFolder, StoredItem] | None:
        for address in {mailbox, *self.full_access.get(login, set())}:
            found = self.store.locate(address, item_id)
            if found is not None:
                return found
        return None

    def answer_update_item(self, request: etree._Element, login: str, impersonated: str) -> str:
        messages = []
        for change in request.iterfind("m:ItemChanges/t:ItemChange", NS):
            item_id = change.find("t:ItemId", NS).get("Id", "")
            found = self._locate_any(impersonated or login, login, item_id)
            if found is None:
                messages.append(
                    _error("UpdateItem", "ErrorItemNotFound", "The specified object was not found in the store.")
                )
                continue
            folder, item = found
            read = change.findtext(".//t:SetItemField/t:Message/t:IsRead", None, NS)
            if read is not None:
                item.is_read = read in {"true", "1"}  # xs:boolean
                item.change_key = _change_key()
                self.store.event(folder, "ReadFlagChange", item_id)
                self.updates.append((impersonated or login, item_id, item.is_read))
            messages.append(
                _ok(
                    "UpdateItem",
                    _items(_item_id(item_id, item.change_key))
                    + "<m:ConflictResults><t:Count>0</t:Count></m:ConflictResults>",
                )
            )
        return _response("UpdateItem", "".join(messages))

    def answer_move_item(self, request: etree._Element, login: str, impersonated: str) -> str:
        try:
            mailbox, target = self.folder_from(request.find("m:ToFolderId", NS), login, impersonated)
        except PermissionError:
            return _response("MoveItem", _error("MoveItem", "ErrorAccessDenied", "Access is denied."))
        assert target is not None
        messages = []
        for element in request.find("m:ItemIds", NS):
            item_id = element.get("Id", "")
            found = self._locate_any(mailbox, login, item_id)
            if found is None:
                messages.append(
                    _error("MoveItem", "ErrorItemNotFound", "The specified object was not found in the store.")
                )
                continue
            source, item = found
            del source.items[item_id]
            self.store.event(source, "Delete", item_id)
            item.item_id, item.change_key = _new_id(), _change_key()
            target.items[item.item_id] = item
            self.store.event(target, "Create", item.item_id)
            self.moves.append((mailbox, item_id, target.name))
            messages.append(
                _ok(
                    "MoveItem",
                    _items(_item_id(item.item_id, item.change_key)),
                )
            )
        return _response("MoveItem", "".join(messages))

    def answer_delete_item(self, request: etree._Element, login: str, impersonated: str) -> str:
        delete_type = request.get("DeleteType", "HardDelete")
        mailbox = impersonated or login
        messages = []
        for element in request.find("m:ItemIds", NS):
            item_id = element.get("Id", "")
            found = self._locate_any(mailbox, login, item_id)
            if found is None:
                messages.append(
                    _error("DeleteItem", "ErrorItemNotFound", "The specified object was not found in the store.")
                )
                continue
            source, item = found
            del source.items[item_id]
            self.store.event(source, "Delete", item_id)
            if delete_type == "MoveToDeletedItems":
                trash = self.store.find_folder(mailbox, distinguished="deleteditems")
                assert trash is not None
                item.item_id = _new_id()
                trash.items[item.item_id] = item
                self.store.event(trash, "Create", item.item_id)
            self.deletes.append((mailbox, item_id, delete_type))
            messages.append(_ok("DeleteItem", ""))
        return _response("DeleteItem", "".join(messages))


def _each_id(holder: etree._Element | None) -> Iterator[etree._Element]:
    """Each folder id in a FolderIds-like element, wrapped so folder_from can look into it."""
    assert holder is not None
    for element in holder:
        wrapper = etree.Element("wrapper")
        wrapper.append(element.__copy__())
        yield wrapper


def _item_id(item_id: str, change_key: str) -> str:
    return f'<t:ItemId Id="{item_id}" ChangeKey="{change_key}"/>'


def _items(inner: str) -> str:
    return f"<m:Items><t:Message>{inner}</t:Message></m:Items>"


def _ok(operation: str, inner: str) -> str:
    return (
        f'<m:{operation}ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
        f"{inner}</m:{operation}ResponseMessage>"
    )


def _error(operation: str, code: str, text: str, extra: str = "") -> str:
    return (
        f'<m:{operation}ResponseMessage ResponseClass="Error"><m:MessageText>{escape(text)}</m:MessageText>'
        f"<m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>{extra}"
        f"</m:{operation}ResponseMessage>"
    )


def _response(operation: str, messages: str) -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{S}"><s:Header>{SERVER_VERSION}</s:Header>'
        '<s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f'<m:{operation}Response xmlns:m="{M}" xmlns:t="{T}"><m:ResponseMessages>{messages}</m:ResponseMessages>'
        f"</m:{operation}Response></s:Body></s:Envelope>"
    )


def _fault(fault: SoapFaultError) -> str:
    detail = ""
    if fault.back_off_ms is not None:
        value = f'<t:Value Name="BackOffMilliseconds">{fault.back_off_ms}</t:Value>'
        detail = f'<t:MessageXml xmlns:t="{T}">{value}</t:MessageXml>'
    return (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{S}"><s:Body><s:Fault>'
        f'<faultcode xmlns:a="{T}">a:{fault.code}</faultcode>'
        f'<faultstring xml:lang="en-US">{escape(fault.text)}</faultstring>'
        f'<detail><e:ResponseCode xmlns:e="{E}">{fault.code}</e:ResponseCode>'
        f'<e:Message xmlns:e="{E}">{escape(fault.text)}'
        f"</e:Message>{detail}</detail></s:Fault></s:Body></s:Envelope>"
    )


def _handler_for(standin: EwsStandin) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as IIS

        def log_message(self, format: str, *args: object) -> None:
            return None

        def send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Server", "Microsoft-IIS/10.0")
            self.send_header("X-AspNet-Version", "4.0.30319")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            at = time.monotonic()
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path.split("?")[0].lower() != PATH.lower():
                self.send(404, b"")
                return
            login = standin.authenticate(self.headers.get("Authorization", ""))
            if login is None:
                standin.record(Recorded(at, "", "", "", 401))
                self.send(401, b"", {"WWW-Authenticate": 'Basic realm="127.0.0.1"'})
                return
            try:
                operation, impersonated, xml = standin.answer(login, body)
            except SoapFaultError as fault:
                envelope = etree.fromstring(body)
                operation = etree.QName(envelope.find("s:Body", NS)[0]).localname
                standin.record(Recorded(at, operation, login, "", 500))
                self.send(500, _fault(fault).encode())
                return
            items = len(etree.fromstring(body).findall(".//t:ItemId", NS))
            standin.record(Recorded(at, operation, login, impersonated, 200, items))
            self.send(200, xml.encode())

    return Handler


def serve_ews(root: Path) -> Iterator[EwsStandin]:
    """A started stand-in (for a pytest fixture); stopped afterwards."""
    standin = EwsStandin(root).start()
    try:
        yield standin
    finally:
        standin.stop()
