from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "postroom.tenants"
    label = "tenants"
