"""What the admin endpoints share: role gates (403 as a problem) and validation errors as 422 problems."""

from __future__ import annotations

from typing import Annotated, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from ninja import Schema
from pydantic import AfterValidator

from postroom.accounts.admin_access import can_change_admin, can_read_admin
from postroom.accounts.permissions import can_use_console
from postroom.api.problems import problem_response


def reject_nul(value: Any) -> Any:
    """Text may hold any character but NUL, which no database column (nor PostgreSQL's jsonb) can store."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if isinstance(value, dict):
        for key, item in value.items():
            reject_nul(key)
            reject_nul(item)
    elif isinstance(value, list):
        for item in value:
            reject_nul(item)
    return value


Text = Annotated[str, AfterValidator(reject_nul)]  # every text field of a request body or query
JsonObject = Annotated[dict[str, Any], AfterValidator(reject_nul)]


class QueueRef(Schema):
    """A queue as other resources name it."""

    id: int
    slug: str
    name: str


def require_console(request: HttpRequest) -> None:
    if not can_use_console(request.user):
        raise PermissionDenied


def require_reader(request: HttpRequest) -> None:
    """Admins and auditors."""
    if not can_read_admin(request.user):
        raise PermissionDenied("Only admins and auditors see this.")


def require_admin(request: HttpRequest) -> None:
    if not can_change_admin(request.user):
        raise PermissionDenied("Only admins change this." if can_read_admin(request.user) else "")


def invalid_response(error: ValidationError, title: str = "Invalid request") -> HttpResponse:
    """422 with `errors`: field -> messages (the same messages the console shows beside its fields)."""
    errors = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
    detail = "; ".join(
        f"{field}: {' '.join(messages)}" if field else " ".join(messages) for field, messages in errors.items()
    )
    return problem_response(422, title, detail, errors=errors)


def conflict_response(title: str, detail: str) -> HttpResponse:
    return problem_response(409, title, detail)
