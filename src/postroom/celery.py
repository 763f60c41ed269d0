"""The Celery application for distributed mode (RabbitMQ or Redis broker, PostgreSQL database)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postroom.conf.settings")

app = Celery("postroom")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.imports = (
    "postroom.inbound.tasks",
    "postroom.outbound.tasks",
    "postroom.portal.tasks",
)  # embedded mode runs them in-process, so import them eagerly
