from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "postroom.connectors"
    label = "connectors"
