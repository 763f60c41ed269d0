"""Console admin pages for users and roles: list, create, change role, queues, password and whether they may sign
in. Admins change; auditors read; everyone else gets 403."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect

from postroom.accounts.admin_access import can_change_admin, get_acting_tenant
from postroom.accounts.models import Role
from postroom.accounts.staff import StaffChange, change_staff_user, create_staff_user, find_role, list_staff
from postroom.web.admin_forms import UserForm, add_service_errors
from postroom.web.admin_views import admin_page, render_admin, require_admin, require_reader

_ALIASES = {"queue_ids": "queues"}


@admin_page
def user_list(request: HttpRequest) -> HttpResponse:
    require_reader(request)
    users = list_staff(get_acting_tenant(request.user).pk)
    return render_admin(
        request, "admin_user_list.html", {"users": users, "roles": dict(Role.choices), "section": "users"}
    )


def _change(data: dict[str, Any]) -> StaffChange:
    return StaffChange(
        role=data["role"],
        queue_ids=tuple(queue.pk for queue in data["queues"]),
        is_active=data["is_active"],
        email=data["email"],
        first_name=data["first_name"],
        last_name=data["last_name"],
        password=data["password"] or None,
    )


@admin_page
def user_create(request: HttpRequest) -> HttpResponse:
    require_admin(request)
    tenant = get_acting_tenant(request.user)
    form = UserForm(request.POST or None, tenant_id=tenant.pk, editing=False)
    if request.method == "POST" and form.is_valid():
        try:
            user = create_staff_user(tenant, form.cleaned_data["username"], _change(form.cleaned_data))
        except ValidationError as e:
            add_service_errors(form, e, _ALIASES)
        else:
            return redirect("admin-user-edit", pk=user.pk)
    context = {"form": form, "creating": True, "section": "users"}
    return render_admin(request, "admin_user_form.html", context, status=422 if form.errors else 200)


@admin_page
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    require_reader(request)
    tenant = get_acting_tenant(request.user)
    user = get_object_or_404(list_staff(tenant.pk), pk=pk)
    initial = {
        "username": user.get_username(),
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": find_role(user),
        "queues": [m.queue for m in user.queue_memberships.all()],
        "is_active": user.is_active,
    }
    form = UserForm(request.POST or None, initial=initial, tenant_id=tenant.pk, editing=True)
    if request.method == "POST":
        require_admin(request)
        if form.is_valid():
            try:
                change_staff_user(request.user, user, tenant, _change(form.cleaned_data))
            except ValidationError as e:
                add_service_errors(form, e, _ALIASES)
            else:
                return redirect("admin-user-edit", pk=user.pk)
    if not can_change_admin(request.user):
        for field in form.fields.values():
            field.disabled = True
    context = {"form": form, "creating": False, "edited": user, "section": "users"}
    return render_admin(request, "admin_user_form.html", context, status=422 if form.errors else 200)
