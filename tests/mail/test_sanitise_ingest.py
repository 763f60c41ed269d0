"""The sanitiser shared by ingest and the console (postroom.mail.sanitise): the stored copy has no remote content
and no tracking pixels, keeps cid: references, and shows the same through the viewer's pass."""

from __future__ import annotations

import lxml.html
import pytest

from postroom.mail.sanitise import (
    BLOCKED_IMAGE,
    find_tracking_pixels,
    sanitise_for_storage,
    sanitise_message_html,
    strip_remote_css,
)

NEWSLETTER = """<html><head><style>@import url("https://fonts.example/f.css");
body { background: url('https://cdn.example/bg.png') } p { color: #235 }</style></head><body>
<p style="background-image:url(https://cdn.example/p.png); color: red">Hello <b>there</b></p>
<img src="https://list-manage.com/track/open.php?u=1" alt="">
<img src="https://news.example/open.gif?id=42" width="1" height="1">
<img src="https://news.example/hidden.gif" style="display:none">
<img src="https://cdn.example/banner.png" alt="banner" width="600">
<img src="cid:logo@example.org" alt="logo">
<script>alert(1)</script><a href="https://docs.example/guide">guide</a>
</body></html>"""


def test_the_stored_copy_has_no_remote_content_and_no_trackers() -> None:
    """
    GIVEN a newsletter with remote CSS, a known-host tracker, a 1x1 pixel, a hidden image, a banner and a cid: logo
    WHEN sanitised for storage
    THEN no remote URL is left in any src or CSS, the three trackers and the banner are placeholders, the logo keeps
         its cid:, links and formatting stay, script is gone
    """
    stored = sanitise_for_storage(NEWSLETTER)
    document = lxml.html.document_fromstring(f"<html><body>{stored.html}</body></html>")
    sources = document.xpath("//img/@src")
    assert sources.count(BLOCKED_IMAGE) == 4 and "cid:logo@example.org" in sources
    assert not any(domain in stored.html for domain in ("cdn.example", "fonts.example", "news.example", "list-manage"))
    assert "@import" not in stored.html and "color: #235" in stored.html and "color: red" in stored.html
    assert 'href="https://docs.example/guide"' in stored.html and "<b>there</b>" in stored.html
    assert "<script" not in stored.html and "alert" not in stored.html
    assert stored.trackers_removed == 3 and stored.remote_removed >= 7


def test_the_viewer_shows_the_stored_copy_as_it_is_and_resolves_its_cid_images() -> None:
    """
    GIVEN the stored copy
    WHEN the console's pass runs over it (cid: to the inline part's URL, no remote)
    THEN it changes nothing else, counts the placeholders as remote images held back, and is idempotent
    """
    stored = sanitise_for_storage(NEWSLETTER).html
    shown = sanitise_message_html(
        stored, inline_images={"logo@example.org": "https://desk.example/img/1"}, allow_remote=False
    )
    assert shown.inline_resolved == 1 and 'src="https://desk.example/img/1"' in shown.html
    assert shown.html.replace('src="https://desk.example/img/1"', 'src="cid:logo@example.org"') == stored
    assert shown.remote_blocked == 4
    assert sanitise_for_storage(stored).html == stored


def test_tracking_pixels_stay_blocked_after_the_remote_opt_in() -> None:
    """GIVEN the original newsletter WHEN the agent allows remote images THEN the banner loads, the trackers don't."""
    shown = sanitise_message_html(NEWSLETTER, inline_images={}, allow_remote=True)
    assert 'src="https://cdn.example/banner.png"' in shown.html
    assert "open.gif" not in shown.html and "list-manage" not in shown.html and "hidden.gif" not in shown.html
    assert shown.trackers_blocked == 3


def test_tracking_pixels_are_found_by_size_style_and_host() -> None:
    """GIVEN images of 1x1, 2px high, hidden, from a known tracker host and an ordinary one THEN four are trackers."""
    found = find_tracking_pixels(
        '<img src="https://a.example/1" width="1" height="1"><img src="https://a.example/2" height="2px">'
        '<img src="https://a.example/3" style="visibility: hidden"><img src="https://x.sendgrid.net/wf/open">'
        '<img src="https://a.example/ok.png" width="300"><img src="cid:x" width="1">'
    )
    assert found == {
        "https://a.example/1",
        "https://a.example/2",
        "https://a.example/3",
        "https://x.sendgrid.net/wf/open",
    }


@pytest.mark.parametrize(
    "css",
    [
        "background: url(https://t.example/a.png)",
        "background: url( '//t.example/a.png' )",
        "background: \\75 rl(https://t.example/a.png)",
        "background: u/**/rl(https://t.example/a.png)",
        "background-image: image-set('https://t.example/a.png' 1x)",
        "@import 'https://t.example/x.css'; p { color: red }",
    ],
)
def test_remote_css_is_removed_even_when_escaped(css: str) -> None:
    """GIVEN CSS that fetches a remote resource, plainly or escaped WHEN stripped THEN nothing remote is left."""
    cleaned, removed = strip_remote_css(css)
    assert "t.example" not in cleaned and removed >= 1


def test_the_stored_copy_counts_its_held_back_images_like_a_fresh_sanitising() -> None:
    """The ticket page counts the placeholders of the stored copy instead of sanitising it again per view."""
    from postroom.mail.sanitise import count_blocked_in_stored, sanitise_for_storage, sanitise_message_html

    html = (
        '<p>Hi</p><img src="https://img.example/a.png"><img src="https://t.example/p.gif" width="1" height="1">'
        '<div style="background:url(https://img.example/b.png)">x</div><img src="cid:logo@x">'
    )
    stored = sanitise_for_storage(html).html
    again = sanitise_message_html(stored, inline_images={}, allow_remote=False).remote_blocked
    assert count_blocked_in_stored(stored) == again == 2
