"""Counters shared through the database, and their Prometheus text."""

from __future__ import annotations

import pytest

from postroom.core import metrics

pytestmark = pytest.mark.django_db


def test_increment_creates_then_adds_per_label_set() -> None:
    """
    GIVEN no counter yet
    WHEN it is bumped twice for one label set and once for another
    THEN each label set keeps its own total and the text format lists both under one TYPE line
    """
    metrics.increment("postroom_loops_total", {"kind": "loop"})
    metrics.increment("postroom_loops_total", {"kind": "loop"}, by=2)
    metrics.increment("postroom_loops_total", {"kind": "rate"})
    assert metrics.read_counter("postroom_loops_total", {"kind": "loop"}) == 3
    assert metrics.read_counter("postroom_loops_total", {"kind": "rate"}) == 1
    assert metrics.read_counter("postroom_loops_total") == 0
    text = metrics.render_prometheus()
    assert text.count("# TYPE postroom_loops_total counter") == 1
    assert 'postroom_loops_total{kind="loop"} 3\n' in text and 'postroom_loops_total{kind="rate"} 1\n' in text


def test_label_values_are_escaped_and_bad_names_refused() -> None:
    assert metrics.format_labels({"b": 'say "hi"\n', "a": 1}) == 'a="1",b="say \\"hi\\"\\n"'
    with pytest.raises(ValueError, match="metric name"):
        metrics.increment("bad name")
    with pytest.raises(ValueError, match="label name"):
        metrics.increment("ok_total", {"bad-label": "x"})


def test_the_metrics_command_prints_the_text_format(capsys: pytest.CaptureFixture[str]) -> None:
    from postroom.cli import main

    metrics.increment("postroom_screened_total", {"cause": "loop"})
    assert main(["metrics"]) == 0
    assert (
        capsys.readouterr().out == '# TYPE postroom_screened_total counter\npostroom_screened_total{cause="loop"} 1\n'
    )
