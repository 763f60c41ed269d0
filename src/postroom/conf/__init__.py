"""Configuration: typed settings read once from POSTROOM_* environment variables."""
