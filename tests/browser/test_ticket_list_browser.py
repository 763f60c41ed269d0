"""The ticket list in a real browser: search, bulk change, a saved view, the queue overview."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest
from liveconsole import LiveConsole

from mailfactory import build_mail

sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright: pip install -e '.[test]'")
expect = sync_api.expect

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_search_select_change_and_save_a_view(page: Page, live_console: LiveConsole) -> None:
    """
    GIVEN two new Support tickets whose bodies carry the same unusual word, and one without it
    WHEN the admin searches for the word, selects both results, sets their priority to Urgent and saves the view
    THEN exactly the two are listed, both show Urgent after the change with a notice saying so, and the saved view
    in the sidebar brings the same search back
    """
    word = f"tok{uuid.uuid4().hex[:10]}"
    subjects = [f"Scanner offline {word[-4:]} {n}" for n in range(2)]
    for subject in subjects:
        live_console.import_mail(build_mail(subject=subject, body=f"Hello,\n\nthe scanner says {word}.\n"))
    live_console.import_mail(build_mail(subject=f"Unrelated {word[-4:]}", body="Nothing to see.\n"))

    page.goto("/")
    page.get_by_role("searchbox", name="Search").fill(word)
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.tickets tbody tr")
    expect(rows).to_have_count(2)
    for subject in subjects:
        expect(rows.get_by_role("link", name=subject)).to_be_visible()

    for checkbox in rows.get_by_role("checkbox").all():
        checkbox.check()
    bulk = page.get_by_role("group", name="Change the selected tickets")
    bulk.get_by_label("Priority").select_option("urgent")
    bulk.get_by_role("button", name="Set priority").click()
    expect(page.get_by_role("status")).to_contain_text("2 of 2 ticket(s) changed.")
    expect(rows.locator(".priority-urgent")).to_have_count(2)

    page.get_by_label("Save these filters as").fill(f"Scanner {word[-4:]}")
    page.get_by_role("button", name="Save view").click()
    page.goto("/")
    page.get_by_role("navigation", name="Saved views").get_by_role("link", name=f"Scanner {word[-4:]}").click()
    expect(page.get_by_role("searchbox", name="Search")).to_have_value(word)
    expect(rows).to_have_count(2)


def test_queue_overview_lists_the_queues(page: Page) -> None:
    """GIVEN the imported examples WHEN the Queues page is opened THEN each queue has a row linking to its list."""
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Queues").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Queues")
    page.get_by_role("rowheader").get_by_role("link", name="Support").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Support")
