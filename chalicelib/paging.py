"""Page cursors (foundation): a DynamoDB ``LastEvaluatedKey`` travels to the client as an opaque
URL-safe string and comes back as the next query's ``ExclusiveStartKey``. A cursor that does not
decode is a 404 (``NotFound("cursor")``): the page it names does not exist."""

from __future__ import annotations

import base64
import json
from typing import Any

from chalicelib.errors import NotFound


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode() if key else None


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as exc:
        raise NotFound("cursor") from exc
    if not isinstance(value, dict):
        raise NotFound("cursor")
    return value
