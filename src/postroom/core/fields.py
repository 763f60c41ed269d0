"""Model fields whose values are encrypted at rest."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from postroom.core.crypto import decrypt_text, encrypt_text


class EncryptedJSONField(models.TextField):  # type: ignore[type-arg]
    """A JSON object stored AES-GCM encrypted; a database dump shows only ciphertext."""

    purpose = "postroom.field.v1"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return {}
        import json

        return json.loads(decrypt_text(value, secret=settings.SECRET_KEY, purpose=self.purpose))

    def to_python(self, value: Any) -> Any:
        return value if value is not None else {}

    def get_prep_value(self, value: Any) -> str:
        import json

        return encrypt_text(json.dumps(value or {}), secret=settings.SECRET_KEY, purpose=self.purpose)
