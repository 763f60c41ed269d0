"""The portal's settings as one typed value, read from POSTROOM_PORTAL_* (postroom.conf.env)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True, slots=True)
class PortalSettings:
    link_lifetime: dt.timedelta  # POSTROOM_PORTAL_LINK_MINUTES
    session_lifetime: dt.timedelta  # POSTROOM_PORTAL_SESSION_HOURS
    links_per_address: int  # per hour
    links_per_client: int  # per hour and client IP (IPv6: /64)
    public_url: str  # "" = the request's own origin (its Host checked against ALLOWED_HOSTS)
    upload_max_bytes: int
    uploads_max_total_bytes: int


def get_portal_settings() -> PortalSettings:
    conf = settings.POSTROOM
    return PortalSettings(
        link_lifetime=dt.timedelta(minutes=conf.portal_link_minutes),
        session_lifetime=dt.timedelta(hours=conf.portal_session_hours),
        links_per_address=conf.portal_links_per_address,
        links_per_client=conf.portal_links_per_client,
        public_url=conf.portal_public_url,
        upload_max_bytes=conf.portal_upload_max_bytes,
        uploads_max_total_bytes=conf.portal_uploads_max_total_bytes,
    )
