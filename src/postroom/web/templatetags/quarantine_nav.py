"""Template filter for the console's navigation: whether a user sees the quarantine (admins and auditors)."""

from __future__ import annotations

from django import template

from postroom.accounts.permissions import User, can_view_unfiled_mail

register = template.Library()


@register.filter
def sees_quarantine(user: User) -> bool:
    """Quarantined mail belongs to no queue: only roles that see every queue (admins, auditors) review it."""
    return can_view_unfiled_mail(user)
