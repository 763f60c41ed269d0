"""API: `GET /api/v1/metrics`, every counter in Prometheus' text format (version 0.0.4) for a scraper holding an
admin's or auditor's token (`Authorization: Bearer pr_…`). The counters are the installation's
(postroom.core.metrics): loops and rate limits held, spam scans, mailboxes turning unhealthy."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from postroom.api.admin_common import require_reader
from postroom.core.metrics import render_prometheus

router = Router(tags=["metrics"])
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@router.get("", response={200: str}, openapi_extra={"responses": {200: {"content": {CONTENT_TYPE: {}}}}})
def get_metrics(request: HttpRequest) -> HttpResponse:
    """Every counter, one `# TYPE` line per name; admins and auditors only."""
    require_reader(request)
    return HttpResponse(render_prometheus(), content_type=CONTENT_TYPE)
