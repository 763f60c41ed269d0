"""The requester portal: requesters sign in with a one-time link by email, see their tickets and reply."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "postroom.portal"
    label = "portal"

    def ready(self) -> None:
        # Registers the sign-in mail task wherever Django starts (web, embedded workers, Celery workers), since
        # postroom.celery imports only the inbound and outbound task modules by name.
        from postroom.portal import tasks  # noqa: F401
