"""Shared fixtures. Tests that need no database stay free of Django (the mail core's tests)."""

from __future__ import annotations

import os
import tempfile

# Settings are read once at import; give every test run its own data folder unless the runner chose one.
os.environ.setdefault("POSTROOM_HOME", tempfile.mkdtemp(prefix="postroom-test-"))
