"""The inbound pipeline: the stage order, written as data, and the loop that runs it and records the trace."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from postroom.inbound.context import InboundContext, StageResult, Stop
from postroom.inbound.stages import admit, analyse, parse, persist, receipt, route, screen, thread

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StageSpec:
    name: str
    run: Callable[[InboundContext], StageResult]


STAGES: Final[tuple[StageSpec, ...]] = (
    StageSpec(parse.NAME, parse.run),
    StageSpec(receipt.NAME, receipt.run),
    StageSpec(screen.NAME, screen.run),
    StageSpec(route.NAME, route.run),
    StageSpec(analyse.NAME, analyse.run),
    StageSpec(thread.NAME, thread.run),
    StageSpec(admit.NAME, admit.run),
    StageSpec(persist.NAME, persist.run),
)


def build_trace_entry(stage: str, result: StageResult) -> dict[str, object]:
    entry: dict[str, object] = {"stage": stage, "verdict": result.verdict, "reason": result.reason}
    data = {k: v for k, v in result.data.items() if v is not None}
    if data:
        entry["data"] = data
    return entry


def run_pipeline(ctx: InboundContext, stages: tuple[StageSpec, ...] = STAGES) -> tuple[list[dict[str, object]], Stop]:
    """Run the stages in order until one stops; return the trace entries and the final outcome."""
    trace: list[dict[str, object]] = []
    for stage in stages:
        result = stage.run(ctx)
        trace.append(build_trace_entry(stage.name, result))
        log.debug("stage %s: %s", stage.name, result.verdict)
        if result.stop is not None:
            return trace, result.stop
    raise RuntimeError("the pipeline ended without a stage deciding the outcome")
