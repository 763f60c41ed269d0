"""The pure mail core: bytes in, typed values out.

Nothing here imports Django, Celery or another postroom package (an import-linter contract enforces it),
reads settings or touches the network except through the transport clients it is handed.
"""

from postroom.mail.values import Address, Limits, ParsedAttachment, ParsedMessage

__all__ = ["Address", "Limits", "ParsedAttachment", "ParsedMessage"]
