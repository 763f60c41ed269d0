from django.apps import AppConfig


class InboundConfig(AppConfig):
    name = "postroom.inbound"
    label = "inbound"

    def ready(self) -> None:
        from django.conf import settings
        from django.db.models.signals import post_delete, post_save

        from postroom.core.localcache import clear_local_caches

        # Routing reads routes, queues and agents' addresses from a short per-process cache; a change here clears
        # it at once.
        for model in (
            "inbound.Route",
            "inbound.SenderListEntry",
            "tickets.Queue",
            "mailboxes.Mailbox",
            settings.AUTH_USER_MODEL,
        ):
            post_save.connect(clear_local_caches, sender=model, dispatch_uid=f"postroom-cache-save-{model}")
            post_delete.connect(clear_local_caches, sender=model, dispatch_uid=f"postroom-cache-delete-{model}")
