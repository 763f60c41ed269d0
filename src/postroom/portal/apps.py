from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "postroom.portal"
    label = "portal"
