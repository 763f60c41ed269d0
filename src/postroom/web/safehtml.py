"""The formatted view of a message's HTML: sanitised with nh3, wrapped in a document, fenced by its CSP.

Three layers, each enough on its own to stop script (docs/adr/0005-html-sanitising.md):
1. nh3 (Rust's ammonia, an allow-list over the html5ever parser) keeps formatting tags and drops scripts, event
   handlers, forms, frames, objects, `<meta>` (refresh), `<base>` and `javascript:` URLs;
2. the response's Content-Security-Policy allows no script at all, images only from `data:`, the message's own
   inline parts and (when the agent asked for it) https:, and runs the document in a CSP sandbox;
3. the console shows it in `<iframe sandbox>` without allow-scripts or allow-same-origin.

Pure: no Django. Remote images are not fetched unless the agent opts in for one message, which keeps tracking
pixels from telling the sender when and where the mail was read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

import nh3

# Formatting tags mail uses besides ammonia's defaults: <style> blocks (rendered as CSS text, never as markup),
# <font> and <center> from old clients. Never script, iframe, object, embed, form controls, meta, base, link.
ALLOWED_TAGS: Final = frozenset({*nh3.ALLOWED_TAGS, "style", "font", "center", "tfoot"})
_LAYOUT_ATTRIBUTES: Final = frozenset({"align", "valign", "width", "height", "bgcolor", "nowrap"})
ALLOWED_ATTRIBUTES: Final = {
    **{tag: frozenset(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": frozenset({"style", "class", "dir", "lang", "title"}),
    "table": frozenset({*nh3.ALLOWED_ATTRIBUTES["table"], *_LAYOUT_ATTRIBUTES, "border", "cellpadding", "cellspacing"}),
    "td": frozenset({*nh3.ALLOWED_ATTRIBUTES["td"], *_LAYOUT_ATTRIBUTES}),
    "th": frozenset({*nh3.ALLOWED_ATTRIBUTES["th"], *_LAYOUT_ATTRIBUTES}),
    "tr": frozenset({*nh3.ALLOWED_ATTRIBUTES["tr"], *_LAYOUT_ATTRIBUTES}),
    "font": frozenset({"color", "face", "size"}),
    "div": frozenset({"align"}),
    "p": frozenset({"align"}),
}
# Removed together with their text (other unknown tags are unwrapped and keep theirs): code, a <head>'s title,
# embedded documents and foreign (SVG, MathML) content, where mutation XSS lives.
DROPPED_WITH_CONTENT: Final = frozenset(
    {"script", "title", "noscript", "template", "iframe", "object", "embed", "applet", "svg", "math"}
)
# Schemes a URL may have at all; `cid:` and `data:` are further limited to <img src> by `_filter_attribute`.
URL_SCHEMES: Final = frozenset({"http", "https", "mailto", "tel", "cid", "data"})
INLINE_IMAGE_DATA: Final = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,", re.IGNORECASE)
# What a blocked remote image shows instead: a grey box (an SVG inside <img> never runs script).
BLOCKED_IMAGE: Final = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='24' height='24'%3E"
    "%3Crect width='24' height='24' fill='%23e6e9ee'/%3E%3C/svg%3E"
)
# Remote resources in CSS (style attributes and <style> blocks): counted so the agent is told they were blocked;
# the CSP is what blocks them.
_CSS_REMOTE_URL: Final = re.compile(r"url\(\s*['\"]?\s*(?:https?:)?//", re.IGNORECASE)

_DOCUMENT_STYLE: Final = (
    "html{color-scheme:light}"
    "body{margin:8px;font:14px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1d232b;background:#fff;"
    "overflow-wrap:anywhere}"
    "img{max-width:100%;height:auto}"
    ".postroom-blocked{font:12px system-ui,sans-serif;color:#5b6673}"
)


@dataclass(frozen=True, slots=True)
class SanitisedHtml:
    """The safe fragment, and what was held back or resolved (for the notice the agent sees)."""

    html: str
    remote_blocked: int  # remote images (and CSS url()s) not loaded because the agent did not allow them
    inline_resolved: int  # cid: images pointed at the message's own inline parts


def _is_remote(url: str) -> bool:
    lowered = url.strip().lower()
    return lowered.startswith(("https:", "http:", "//"))


def find_inline_url(src: str, inline_images: Mapping[str, str]) -> str | None:
    """The URL of the inline part a `cid:` reference names (RFC 2392: URL-encoded, compared without <>)."""
    content_id = unquote(src.strip()[4:]).strip().strip("<>").lower()
    return inline_images.get(content_id)


class _AttributeFilter:
    """nh3's attribute filter for one message: rewrites image sources and counts what it resolved or held back."""

    def __init__(self, inline_images: Mapping[str, str], *, allow_remote: bool) -> None:
        self.inline_images = inline_images
        self.allow_remote = allow_remote
        self.remote_blocked = 0
        self.inline_resolved = 0

    def __call__(self, tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src":
            return self.filter_image_source(value)
        if value.strip().lower().startswith(("cid:", "data:")):
            return None  # only an image source may carry these (a data: link would be a navigation to content)
        return value

    def filter_image_source(self, value: str) -> str | None:
        lowered = value.strip().lower()
        if lowered.startswith("cid:"):
            url = find_inline_url(value, self.inline_images)
            self.inline_resolved += url is not None
            return url
        if INLINE_IMAGE_DATA.match(lowered):
            return value
        if not _is_remote(lowered):
            return None  # relative or unknown: it points nowhere outside the sender's mailer
        if self.allow_remote:
            return value
        self.remote_blocked += 1
        return BLOCKED_IMAGE


def sanitise_message_html(html: str, *, inline_images: Mapping[str, str], allow_remote: bool) -> SanitisedHtml:
    """Keep the formatting of a message's HTML and nothing that runs, navigates or fetches by itself.

    `inline_images` maps lower-case Content-IDs to the URLs that serve those parts; `allow_remote` keeps https:
    and http: image sources (the CSP still lets only https: load)."""
    attribute_filter = _AttributeFilter(inline_images, allow_remote=allow_remote)
    cleaned = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=attribute_filter,
        url_schemes=set(URL_SCHEMES),
        url_relative="deny",  # a relative URL in a mail points nowhere; here it would point into the console
        link_rel="noopener noreferrer",
    )
    remote = attribute_filter.remote_blocked
    if not allow_remote:
        remote += len(_CSS_REMOTE_URL.findall(cleaned))
    return SanitisedHtml(cleaned, remote, attribute_filter.inline_resolved)


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
