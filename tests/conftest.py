"""Shared fixtures. Tests that need no database stay free of Django (the mail core's tests)."""

from __future__ import annotations

import os
import tempfile

# Settings are read once at import; give every test run its own data folder unless the runner chose one.
os.environ.setdefault("POSTROOM_HOME", tempfile.mkdtemp(prefix="postroom-test-"))


def pytest_runtest_setup(item: object) -> None:
    """Per-process caches must not carry rows from one test's (rolled back) database into the next."""
    try:
        from postroom.core.localcache import clear_local_caches
    except ImportError:  # pragma: no cover - the package is always installed in the test environment
        return
    clear_local_caches()
