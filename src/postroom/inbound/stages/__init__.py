"""Pipeline stages: one module each, every one exposing NAME and run(context) -> StageResult."""
