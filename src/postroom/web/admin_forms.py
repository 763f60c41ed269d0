"""Forms of the admin pages: they parse what the browser sent; the services (save_queue, save_route, ...) decide
what may be saved, so the console and the API refuse the same things with the same messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from postroom.accounts.models import Role
from postroom.inbound.models import Route
from postroom.mailboxes.models import Mailbox
from postroom.tickets.models import Queue


def add_service_errors(form: forms.BaseForm, error: ValidationError, aliases: Mapping[str, str] | None = None) -> None:
    """Put a service's ValidationError on the form: each message beside its field, the rest above the form."""
    errors = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
    for key, messages in errors.items():
        field = (aliases or {}).get(key, key)
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, message if target or not key else f"{key}: {message}")


class LinesField(forms.CharField):
    """A list of strings entered one per line."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list | tuple) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [line.strip() for line in str(text).splitlines() if line.strip()]


class QueueForm(forms.ModelForm):  # type: ignore[type-arg]
    foreign_reference_patterns = LinesField(
        required=False,
        label="Other systems' ticket numbers",
        help_text=r"One regular expression per line with one capture group, e.g. \[Ticket#(\d+)\]",
    )

    class Meta:
        model = Queue
        fields = [
            "name",
            "slug",
            "is_default",
            "from_address",
            "from_name",
            "signature",
            "reply_to_token",
            "unknown_sender_policy",
            "allow_organization_followups",
            "closed_reply_policy",
            "reopen_within_days",
            "foreign_reference_patterns",
        ]
        widgets = {"signature": forms.Textarea(attrs={"rows": 4})}
        labels = {
            "slug": "Short name",
            "is_default": "Default queue",
            "from_address": "Replies from (address)",
            "from_name": "Replies from (name)",
            "reply_to_token": "Plus-addressed Reply-To",
            "unknown_sender_policy": "A follow-up from someone not on the ticket",
            "allow_organization_followups": "Colleagues of the requester may follow up",
            "closed_reply_policy": "A reply to a resolved or closed ticket",
            "reopen_within_days": "Reopen within (days)",
        }
        help_texts = {
            "slug": "In links and the API; made from the name when empty (and kept when emptied later).",
            "allow_organization_followups": "People of the requester's organisation may add to a ticket.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False


class RouteForm(forms.ModelForm):  # type: ignore[type-arg]
    queue = forms.ModelChoiceField(queryset=Queue.objects.none(), to_field_name="slug")

    class Meta:
        model = Route
        fields = ["address", "queue", "mailbox"]
        labels = {"mailbox": "Only for mail from this mailbox"}

    def __init__(self, *args: Any, tenant_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["queue"].queryset = Queue.objects.filter(tenant_id=tenant_id).order_by("name")  # type: ignore[attr-defined]
        self.fields["mailbox"].queryset = Mailbox.objects.filter(tenant_id=tenant_id).order_by("name")  # type: ignore[attr-defined]
        self.fields["mailbox"].empty_label = "every mailbox"  # type: ignore[attr-defined]


class MemberForm(forms.Form):
    user = forms.ModelChoiceField(
        queryset=Queue.objects.none(), to_field_name="username", label="Add a queue manager or agent"
    )

    def __init__(self, *args: Any, eligible: Any, members: Any, **kwargs: Any) -> None:
        """`eligible` may be chosen (adding a member again changes nothing); the list offers the others only."""
        super().__init__(*args, **kwargs)
        field = self.fields["user"]
        field.queryset = eligible  # type: ignore[attr-defined]
        offered = eligible.exclude(pk__in=members)
        field.widget.choices = [("", "---------"), *((user.get_username(), str(user)) for user in offered)]


class UserForm(forms.Form):
    username = forms.CharField(max_length=150)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.AGENT)
    queues = forms.ModelMultipleChoiceField(
        queryset=Queue.objects.none(),
        to_field_name="slug",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Queue managers and agents see and act on the tickets of these queues.",
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active (may sign in)")
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Required for a new user; leave empty to keep the current one.",
    )

    def __init__(self, *args: Any, tenant_id: int, editing: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["queues"].queryset = Queue.objects.filter(tenant_id=tenant_id).order_by("name")  # type: ignore[attr-defined]
        if editing:
            self.fields["username"].disabled = True
        else:
            self.fields["password"].required = True
            self.fields["password"].help_text = "At least 8 characters, not a common one."
