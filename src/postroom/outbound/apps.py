from django.apps import AppConfig


class OutboundConfig(AppConfig):
    name = "postroom.outbound"
    label = "outbound"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from postroom.core.localcache import clear_local_caches

        # Threading keys and tenant settings are read from a short per-process cache on every reply.
        for model in ("tenants.ThreadingKey", "tenants.Tenant"):
            post_save.connect(clear_local_caches, sender=model, dispatch_uid=f"postroom-cache-save-{model}")
            post_delete.connect(clear_local_caches, sender=model, dispatch_uid=f"postroom-cache-delete-{model}")
