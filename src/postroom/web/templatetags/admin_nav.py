"""Template filter for the console's navigation: whether a user sees the Admin link."""

from __future__ import annotations

from django import template

from postroom.accounts.admin_access import uses_admin_pages
from postroom.accounts.permissions import User

register = template.Library()


@register.filter
def sees_admin(user: User) -> bool:
    """Admins (everything), auditors (read-only) and queue managers (their queues' members)."""
    return uses_admin_pages(user)
