"""Mail HTML made safe to show: one nh3 policy for the copy stored at ingest and for the console's formatted view.

nh3 (Rust's ammonia, an allow-list over the html5ever parser) keeps formatting tags and drops scripts, event
handlers, forms, frames, objects, `<meta>` (refresh), `<base>` and `javascript:` URLs (docs/adr/0005).
Image sources are rewritten by an attribute filter: `cid:` to the message's own inline part, `data:image/...` kept,
remote sources replaced by a grey placeholder unless the viewer opted in. Tracking pixels (an image of at most
2x2 pixels or hidden, or one from a known tracking host) never load, not even after the opt-in.

`sanitise_for_storage` makes the copy stored beside the original at ingest: no remote image, no remote CSS
(`url()`, `@import`), no tracking pixel, `cid:` references kept for the viewer to resolve. Pure: no Django.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Final
from urllib.parse import unquote, urlsplit

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
# Schemes a URL may have at all; `cid:` and `data:` are further limited to <img src> by `_AttributeFilter`.
URL_SCHEMES: Final = frozenset({"http", "https", "mailto", "tel", "cid", "data"})
INLINE_IMAGE_DATA: Final = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,", re.IGNORECASE)
# What a blocked remote image shows instead: a grey box (an SVG inside <img> never runs script).
BLOCKED_IMAGE: Final = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='24' height='24'%3E"
    "%3Crect width='24' height='24' fill='%23e6e9ee'/%3E%3C/svg%3E"
)
# Remote resources in CSS (style attributes and <style> blocks): counted for the viewer (its CSP blocks them) and
# removed from the stored copy.
_CSS_REMOTE_URL: Final = re.compile(r"url\(\s*['\"]?\s*(?:https?:)?//", re.IGNORECASE)
_CSS_REMOTE_URL_CALL: Final = re.compile(r"url\(\s*['\"]?\s*(?:https?:)?//[^)]*\)", re.IGNORECASE)
_CSS_IMPORT: Final = re.compile(r"@import\b[^;]*;?", re.IGNORECASE)
_CSS_COMMENT: Final = re.compile(r"/\*.*?(?:\*/|$)", re.DOTALL)
_CSS_ESCAPE: Final = re.compile(r"\\([0-9a-fA-F]{1,6}\s?|.)", re.DOTALL)
_CSS_STILL_FETCHES: Final = re.compile(r"(?:url\(|image-set\(|@import)\s*['\"]?\s*(?:https?:)?//", re.IGNORECASE)
_STYLE_BLOCK: Final = re.compile(r"(<style\b[^>]*>)(.*?)(</style>)", re.IGNORECASE | re.DOTALL)
# Tracking pixels: hidden or tiny images, or images from hosts that only serve open-tracking beacons (the
# senders' own link and image hosts are not listed: they are blocked as remote content anyway).
MAX_PIXEL_SIDE: Final = 2
TRACKER_HOSTS: Final = (
    "list-manage.com", "sendgrid.net", "mandrillapp.com", "mailgun.org", "sparkpostmail.com", "mcsv.net",
    "hubspotemail.net", "hubspotlinks.com", "exacttarget.com", "pardot.com", "mktoresp.com", "mixpanel.com",
    "google-analytics.com", "doubleclick.net", "mailtrack.io", "yesware.com", "bananatag.com", "streak.com",
    "getnotify.com", "cirrusinsight.com", "mailstat.us", "emltrk.com", "sidekickopen.com", "intercom-mail.com",
)  # fmt: skip
_HIDDEN_STYLE: Final = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|opacity\s*:\s*0(?:\.0*)?\s*(?:;|$)"
    r"|(?:^|[;\s])(?:max-)?(?:width|height)\s*:\s*[0-2](?:\.\d+)?px",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class SanitisedHtml:
    """The safe fragment, and what was held back or resolved (for the notice the agent sees)."""

    html: str
    remote_blocked: int  # remote images (and CSS url()s) not loaded because the agent did not allow them
    inline_resolved: int  # cid: images pointed at the message's own inline parts
    trackers_blocked: int = 0  # tracking pixels, never loaded (also counted in remote_blocked when not allowed)


@dataclass(frozen=True, slots=True)
class StoredHtml:
    """The copy sanitised at ingest, and what it lost."""

    html: str
    remote_removed: int  # remote images (placeholders now), remote CSS url()s and @imports
    trackers_removed: int  # of which tracking pixels


def is_remote(url: str) -> bool:
    lowered = url.strip().lower()
    return lowered.startswith(("https:", "http:", "//"))


def find_inline_url(src: str, inline_images: Mapping[str, str]) -> str | None:
    """The URL of the inline part a `cid:` reference names (RFC 2392: URL-encoded, compared without <>)."""
    content_id = unquote(src.strip()[4:]).strip().strip("<>").lower()
    return inline_images.get(content_id)


def _pixels(value: str | None) -> float | None:
    match = re.match(r"\s*(\d+(?:\.\d+)?)\s*(?:px)?\s*$", value or "")
    return float(match.group(1)) if match else None


def is_tracking_pixel(src: str, attributes: Mapping[str, str | None]) -> bool:
    """A remote image that is hidden, at most 2 pixels wide or high, or served by a known tracking host."""
    if not is_remote(src):
        return False
    for side in ("width", "height"):
        size = _pixels(attributes.get(side))
        if size is not None and size <= MAX_PIXEL_SIDE:
            return True
    if _HIDDEN_STYLE.search(attributes.get("style") or ""):
        return True
    host = (urlsplit(src.strip() if "//" in src[:8] else f"//{src.strip()}").hostname or "").lower()
    return any(host == known or host.endswith(f".{known}") for known in TRACKER_HOSTS)


class _TrackerFinder(HTMLParser):
    """The sources of tracking pixels, found by a first pass over the markup (nh3's filter sees one attribute at a
    time). Only a privacy measure: a source this pass misses is still a remote image, blocked by the sanitiser."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sources: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "img":
            return
        attributes = {name.lower(): value for name, value in attrs}
        src = (attributes.get("src") or "").strip()
        if src and is_tracking_pixel(src, attributes):
            self.sources.add(src)


# An <img> start tag, quoted attribute values allowed to hold ">": only these are handed to the parser, since
# parsing a whole newsletter in Python took milliseconds per message at ingest (the rest is nh3's, in Rust).
_IMG_TAG: Final = re.compile(r"""<img\b(?:[^>"']|"[^"]*"|'[^']*')*>""", re.IGNORECASE)


def find_tracking_pixels(html: str) -> frozenset[str]:
    finder = _TrackerFinder()
    for tag in _IMG_TAG.finditer(html):
        try:
            finder.feed(tag.group(0))
        except (AssertionError, ValueError):  # HTMLParser gives up on some malformed declarations
            finder.reset()
    return frozenset(finder.sources)


def strip_remote_css(css: str) -> tuple[str, int]:
    """CSS without remote url()s and @imports, and how many were removed; CSS that would still fetch something
    after that (escapes, comments, image-set strings) is dropped whole."""
    css, urls = _CSS_REMOTE_URL_CALL.subn("none", css)
    css, imports = _CSS_IMPORT.subn("", css)
    decoded = _CSS_ESCAPE.sub(_decode_css_escape, _CSS_COMMENT.sub("", css))
    if _CSS_STILL_FETCHES.search(decoded):
        return "", urls + imports + 1
    return css, urls + imports


def _decode_css_escape(match: re.Match[str]) -> str:
    value = match.group(1)
    digits = value.strip()
    if len(digits) and all(char in "0123456789abcdefABCDEF" for char in digits):
        code = int(digits, 16)
        return chr(code) if 0 < code <= 0x10FFFF else "\ufffd"
    return value


class _AttributeFilter:
    """nh3's attribute filter for one message: rewrites image sources and counts what it resolved or held back.

    `store` is the ingest mode: `cid:` references stay for the viewer to resolve and remote CSS is removed."""

    def __init__(
        self, inline_images: Mapping[str, str], trackers: frozenset[str], *, allow_remote: bool, store: bool = False
    ) -> None:
        self.inline_images = inline_images
        self.trackers = trackers
        self.allow_remote = allow_remote
        self.store = store
        self.remote_blocked = 0
        self.inline_resolved = 0
        self.trackers_blocked = 0
        self.css_removed = 0

    def __call__(self, tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src":
            return self.filter_image_source(value)
        if value.strip().lower().startswith(("cid:", "data:")):
            return None  # only an image source may carry these (a data: link would be a navigation to content)
        if self.store and attribute == "style":
            css, removed = strip_remote_css(value)
            self.css_removed += removed
            return css or None
        return value

    def filter_image_source(self, value: str) -> str | None:  # noqa: PLR0911 - one return per kind of source
        lowered = value.strip().lower()
        if lowered.startswith("cid:"):
            if self.store:
                return value
            url = find_inline_url(value, self.inline_images)
            self.inline_resolved += url is not None
            return url
        if value.strip() == BLOCKED_IMAGE:
            self.remote_blocked += 1  # a placeholder the stored copy already holds
            return value
        if INLINE_IMAGE_DATA.match(lowered):
            return value
        if not is_remote(lowered):
            return None  # relative or unknown: it points nowhere outside the sender's mailer
        tracker = value.strip() in self.trackers
        self.trackers_blocked += tracker
        if self.allow_remote and not tracker:
            return value
        self.remote_blocked += not self.allow_remote
        return BLOCKED_IMAGE


def _clean(html: str, attribute_filter: _AttributeFilter) -> str:
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=attribute_filter,
        url_schemes=set(URL_SCHEMES),
        url_relative="deny",  # a relative URL in a mail points nowhere; here it would point into the console
        link_rel="noopener noreferrer",
    )


def sanitise_message_html(html: str, *, inline_images: Mapping[str, str], allow_remote: bool) -> SanitisedHtml:
    """Keep the formatting of a message's HTML and nothing that runs, navigates or fetches by itself.

    `inline_images` maps lower-case Content-IDs to the URLs that serve those parts; `allow_remote` keeps https:
    and http: image sources (the CSP still lets only https: load), except tracking pixels."""
    attribute_filter = _AttributeFilter(inline_images, find_tracking_pixels(html), allow_remote=allow_remote)
    cleaned = _clean(html, attribute_filter)
    remote = attribute_filter.remote_blocked
    if not allow_remote:
        remote += len(_CSS_REMOTE_URL.findall(cleaned))
    return SanitisedHtml(cleaned, remote, attribute_filter.inline_resolved, attribute_filter.trackers_blocked)


def sanitise_for_storage(html: str) -> StoredHtml:
    """The copy stored at ingest: sanitised like the formatted view, with remote images replaced by placeholders,
    remote CSS removed, tracking pixels gone, and `cid:` references kept."""
    attribute_filter = _AttributeFilter({}, find_tracking_pixels(html), allow_remote=False, store=True)
    cleaned = _clean(html, attribute_filter)
    removed = attribute_filter.remote_blocked + attribute_filter.css_removed

    edited = False

    def strip_block(match: re.Match[str]) -> str:
        nonlocal removed, edited
        css, count = strip_remote_css(match.group(2))
        removed += count
        edited = edited or css != match.group(2)
        return f"{match.group(1)}{css}{match.group(3)}"

    cleaned = _STYLE_BLOCK.sub(strip_block, cleaned)
    if edited:  # once more through nh3, so the stored copy is exactly what the sanitiser emits after the CSS edit
        cleaned = _clean(cleaned, _AttributeFilter({}, frozenset(), allow_remote=False, store=True))
    return StoredHtml(cleaned, removed, attribute_filter.trackers_blocked)


def count_blocked_in_stored(stored_html: str) -> int:
    """How many remote images the stored copy holds back: each is the placeholder there (remote CSS is already
    gone), so the ticket page counts them without sanitising the message again on every view."""
    return stored_html.count(BLOCKED_IMAGE)
