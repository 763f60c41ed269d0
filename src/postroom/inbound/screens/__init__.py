"""The screen stage's checks, one module each, run in the order of `postroom.inbound.stages.screen.SCREENS`.

Each module has `NAME` and `check(ctx) -> Finding | None`: None when it has nothing to say, else a `Finding`
that notes something in the trace or holds the message for a quarantine cause (`postroom.inbound.screening`).
"""
