"""Django settings, derived entirely from `postroom.conf.env.load_settings()` (no other environment reads)."""

from __future__ import annotations

from typing import Any

from postroom.conf.env import load_settings

POSTROOM = load_settings()

DEBUG = POSTROOM.debug
SECRET_KEY = POSTROOM.secret_key
ALLOWED_HOSTS = list(POSTROOM.allowed_hosts)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "postroom.core",
    "postroom.tenants",
    "postroom.mailboxes",
    "postroom.tickets",
    "postroom.accounts",
    "postroom.outbound",
    "postroom.inbound",
    "postroom.connectors",
    "postroom.web",
    "postroom.portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "postroom.core.middleware.RefuseNulMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "postroom.urls"
WSGI_APPLICATION = "postroom.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def build_databases() -> dict[str, dict[str, Any]]:
    db = POSTROOM.database
    if db.engine == "sqlite":
        return {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": db.name,
                "OPTIONS": {
                    # WAL lets the web thread read while the worker writes; IMMEDIATE takes the write lock at
                    # BEGIN so two writers queue on the busy timeout instead of failing mid-transaction.
                    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
                    "transaction_mode": "IMMEDIATE",
                    "timeout": 30,
                },
                "TEST": {"NAME": db.name + ".test"},
            }
        }
    return {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": db.name,
            "USER": db.user,
            "PASSWORD": db.password,
            "HOST": db.host,
            "PORT": db.port,
            "CONN_MAX_AGE": POSTROOM.db_conn_max_age,
            "CONN_HEALTH_CHECKS": True,
            # Server-side binding lets psycopg prepare statements it sees repeatedly (prepare_threshold), so the
            # hot ingest queries are planned once per connection instead of once per message.
            "OPTIONS": {"server_side_binding": True, "prepare_threshold": 2},
        }
    }


DATABASES = build_databases()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = None  # WhiteNoise serves from the apps (finders); no collectstatic step
WHITENOISE_USE_FINDERS = True  # serve app static files without a collectstatic step (embedded mode)
WHITENOISE_AUTOREFRESH = DEBUG

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Celery (distributed mode). Queues carry ids only; the database is the source of truth.
CELERY_BROKER_URL = POSTROOM.broker_url
CELERY_TASK_DEFAULT_QUEUE = POSTROOM.task_queue
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"tracking": {"()": "postroom.core.logging.TrackingIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(tracking_id)s] %(message)s"},
        "json": {"()": "postroom.core.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["tracking"],
            "formatter": "json" if POSTROOM.log_json else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": POSTROOM.log_level},
    "loggers": {
        "django": {"level": "WARNING"},
        "mail.log": {"level": "WARNING"},
        "celery": {"level": "WARNING"},
    },
}
