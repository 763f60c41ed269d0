from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "postroom.tickets"
    label = "tickets"
