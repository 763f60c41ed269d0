"""The HTTP API (django-ninja): what the console can do, for scripts and integrations."""
