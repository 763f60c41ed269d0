"""The formatted view of a message's HTML: sanitised with nh3, wrapped in a document, fenced by its CSP.

Three layers, each enough on its own to stop script (docs/adr/0005-html-sanitising.md):
1. nh3 (Rust's ammonia, an allow-list over the html5ever parser) keeps formatting tags and drops scripts, event
   handlers, forms, frames, objects, `<meta>` (refresh), `<base>` and `javascript:` URLs;
2. the response's Content-Security-Policy allows no script at all, images only from `data:`, the message's own
   inline parts and (when the agent asked for it) https:, and runs the document in a CSP sandbox;
3. the console shows it in `<iframe sandbox>` without allow-scripts or allow-same-origin.

The sanitiser lives in postroom.mail.sanitise (ingest stores a copy made by it); this module adds the document
and its CSP. Pure: no Django. Remote images are not fetched unless the agent opts in for one message, which keeps
tracking pixels from telling the sender when and where the mail was read (and tracking pixels never load).
"""

from __future__ import annotations

from typing import Final

# The sanitiser itself is pure and shared with ingest (the stored sanitised copy): postroom.mail.sanitise.
from postroom.mail.sanitise import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    BLOCKED_IMAGE,
    DROPPED_WITH_CONTENT,
    INLINE_IMAGE_DATA,
    URL_SCHEMES,
    SanitisedHtml,
    find_inline_url,
    sanitise_message_html,
)

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_TAGS",
    "BLOCKED_IMAGE",
    "DROPPED_WITH_CONTENT",
    "INLINE_IMAGE_DATA",
    "URL_SCHEMES",
    "SanitisedHtml",
    "build_formatted_csp",
    "build_formatted_document",
    "find_inline_url",
    "sanitise_message_html",
]

_DOCUMENT_STYLE: Final = (
    "html{color-scheme:light}"
    "body{margin:8px;font:14px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1d232b;background:#fff;"
    "overflow-wrap:anywhere}"
    "img{max-width:100%;height:auto}"
    ".postroom-blocked{font:12px system-ui,sans-serif;color:#5b6673}"
)


def build_formatted_document(fragment: str) -> str:
    """A whole document around a sanitised fragment: UTF-8, no referrer, links open outside the frame."""
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="referrer" content="no-referrer"><base target="_blank">'
        f"<style>{_DOCUMENT_STYLE}</style></head><body>{fragment}</body></html>"
    )


def build_formatted_csp(inline_image_prefix: str, *, allow_remote: bool) -> str:
    """The Content-Security-Policy of the formatted view.

    No script source at all (default-src 'none'); inline CSS only; images from data:, the message's inline parts
    under `inline_image_prefix` (an absolute URL ending in /) and https: when allowed; only the console may frame
    it. `sandbox` makes the document script-less with an opaque origin even when opened on its own; popups may
    leave the sandbox so that a link the agent clicks opens an ordinary tab."""
    images = ["data:", inline_image_prefix, *(["https:"] if allow_remote else [])]
    return "; ".join(
        (
            "default-src 'none'",
            "style-src 'unsafe-inline'",
            "img-src " + " ".join(images),
            "frame-ancestors 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "sandbox allow-popups allow-popups-to-escape-sandbox",
        )
    )
