"""Postroom: an open-source service desk built around email."""

__version__ = "0.1.0"
