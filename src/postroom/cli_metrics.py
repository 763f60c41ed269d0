"""`postroom metrics`: every counter (postroom.core.metrics) in Prometheus' text format, for a look by hand or a
node-exporter textfile collector (`postroom metrics > /var/lib/node_exporter/postroom.prom`)."""

from __future__ import annotations

import argparse
import sys


def add_metrics_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("metrics", help="print every counter in Prometheus text format")
    p.set_defaults(func=cmd_metrics)


def cmd_metrics(args: argparse.Namespace) -> int:
    from postroom.core.metrics import render_prometheus

    sys.stdout.write(render_prometheus())
    return 0
