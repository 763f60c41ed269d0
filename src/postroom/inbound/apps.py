from django.apps import AppConfig


class InboundConfig(AppConfig):
    name = "postroom.inbound"
    label = "inbound"
