"""Writes on contacts and organisations from the admin API: a contact's name and organisation, an organisation's
name and mail domains. One validation for every channel.

A mail domain belongs to at most one organisation of a tenant, so "whose address is in one of its domains" always
names a single organisation.
"""

from __future__ import annotations

import re
from typing import Final

from django.core.exceptions import ValidationError

from postroom.tickets.models import Contact, Organization

_DOMAIN: Final = re.compile(r"(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")


def normalise_domains(domains: object) -> list[str]:
    """Lower-case, without a leading "@", each once; ValueError names the first entry that is no domain."""
    if not isinstance(domains, list):
        raise ValueError('must be a list of mail domains, e.g. ["acme.example"]')  # noqa: TRY004 (a form error)
    out: list[str] = []
    for item in domains:
        domain = item.strip().lower().removeprefix("@").rstrip(".") if isinstance(item, str) else ""
        if not _DOMAIN.fullmatch(domain):
            raise ValueError(f"{item!r} is not a mail domain")
        if domain not in out:
            out.append(domain)
    return out


def validate_organization(organization: Organization) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    try:
        organization.domains = normalise_domains(organization.domains)
    except ValueError as e:
        errors["domains"] = [str(e)]
    try:
        organization.full_clean(exclude=["tenant", "domains"])
    except ValidationError as e:
        errors.update(e.message_dict)
    if "domains" not in errors:
        others = Organization.objects.filter(tenant_id=organization.tenant_id).exclude(pk=organization.pk)
        for other in others.only("name", "domains"):
            taken = sorted(set(organization.domains) & set(other.domains or []))
            if taken:
                errors.setdefault("domains", []).append(f"{', '.join(taken)} already belong to {other.name}")
    return errors


def save_organization(organization: Organization) -> Organization:
    errors = validate_organization(organization)
    if errors:
        raise ValidationError(errors)
    organization.save()
    return organization


def save_contact(contact: Contact) -> Contact:
    """Save a contact's name and organisation (its address is its identity and does not change here)."""
    errors: dict[str, list[str]] = {}
    contact.name = contact.name.strip()
    try:
        contact.full_clean(exclude=["tenant", "organization", "email", "email_key"], validate_constraints=False)
    except ValidationError as e:
        errors.update(e.message_dict)
    if contact.organization_id is not None:
        organization = Organization.objects.filter(pk=contact.organization_id, tenant_id=contact.tenant_id).first()
        if organization is None:
            errors.setdefault("organization_id", []).append("no such organisation")
    if errors:
        raise ValidationError(errors)
    contact.save(update_fields=["name", "organization"])
    return contact
