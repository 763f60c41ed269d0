"""First-run set-up shared by `postroom init` and `postroom up`: schema, default tenant and queue, first admin."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from postroom.accounts.models import Role
from postroom.accounts.services import assign_role
from postroom.tenants.services import get_default_tenant
from postroom.tickets.services import ensure_default_queue

CREDENTIALS_FILE = "admin-credentials.txt"


@dataclass(frozen=True, slots=True)
class SetupReport:
    admin_username: str
    admin_password: str | None  # None when the admin existed and the password is no longer on file
    credentials_file: Path

    def render(self) -> str:
        if self.admin_password:
            return f"Admin login: {self.admin_username} / {self.admin_password}  (also in {self.credentials_file})"
        return f"Admin login: {self.admin_username} (password as set before)"


def initialise(admin_username: str = "admin") -> SetupReport:
    call_command("migrate", interactive=False, verbosity=0)
    tenant = get_default_tenant()
    ensure_default_queue(tenant)
    credentials = Path(settings.POSTROOM.home) / CREDENTIALS_FILE
    users = get_user_model()
    if not users.objects.filter(username=admin_username).exists():
        password = secrets.token_urlsafe(12)
        admin = users.objects.create_superuser(username=admin_username, email="", password=password)
        assign_role(admin, Role.ADMIN, tenant)
        credentials.parent.mkdir(parents=True, exist_ok=True)
        credentials.write_text(f"{admin_username}\n{password}\n")
        credentials.chmod(0o600)
        return SetupReport(admin_username, password, credentials)
    stored = credentials.read_text().split() if credentials.exists() else []
    if len(stored) == 2 and stored[0] == admin_username:
        user = users.objects.get(username=admin_username)
        if user.check_password(stored[1]):
            return SetupReport(admin_username, stored[1], credentials)
    return SetupReport(admin_username, None, credentials)
