"""Typed reads from a platform's JSON payload, each refusing a wrong shape with ``BadRequest``.

Every JSON channel (Telegram, LINE, Douyin, Weibo …) walks an untrusted, already-authenticated
body whose fields may be missing, of the wrong type, or (Douyin) a JSON object serialized into a
string. Reading it through these helpers keeps one rule everywhere: a malformed body is a clear
400 naming the field, never a ``KeyError``/``TypeError`` that would surface as a 5xx and make the
platform retry a delivery that can never succeed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any

from chalicelib.channels.base import BadRequest

#: A Unix time after this is not a message timestamp but garbage (or milliseconds sent as seconds).
_MAX_EPOCH_SECONDS = 10**11


def obj(value: Any, where: str) -> dict[str, Any]:
    """``value`` as a JSON object, or BadRequest."""
    if not isinstance(value, dict):
        raise BadRequest(f"{where} is not an object")
    return value


def obj_or_json_string(value: Any, where: str) -> dict[str, Any]:
    """A JSON object that some platforms (Douyin) send serialized into a string."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as exc:
            raise BadRequest(f"{where} is a string but not JSON") from exc
    return obj(value, where)


def opt_obj(data: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    value = data.get(key)
    return None if value is None else obj(value, key)


def opt_list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest(f"{key} is not a list")
    return value


def opt_str(data: Mapping[str, Any], key: str) -> str | None:
    """A string member; None when absent or null. Empty strings count as absent."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{key} is not a string")
    return value or None


def req_str(data: Mapping[str, Any], key: str) -> str:
    value = opt_str(data, key)
    if value is None:
        raise BadRequest(f"missing {key}")
    return value


def opt_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{key} is not an integer")
    return value


def req_int(data: Mapping[str, Any], key: str) -> int:
    value = opt_int(data, key)
    if value is None:
        raise BadRequest(f"missing {key}")
    return value


def opt_id(data: Mapping[str, Any], key: str) -> str | None:
    """An identifier that platforms send as a number or a string (Weibo uids, Douyin ids): always
    returned as a string, so ids never lose digits or change type between inbound and outbound."""
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadRequest(f"{key} is not an id")
    return str(value)


def id_or_none(value: Any) -> str | None:
    """An id from a platform's *answer* to our request, or None: never raises, because a send
    that went out must be recorded as sent even if the answer's id has an odd shape."""
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        return None
    return str(value)


def req_id(data: Mapping[str, Any], key: str) -> str:
    value = opt_id(data, key)
    if value is None:
        raise BadRequest(f"missing {key}")
    return value


def coordinate(data: Mapping[str, Any], key: str, bound: float) -> float:
    """A latitude (bound 90) or longitude (bound 180), sent as a number or a numeric string."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadRequest(f"{key} is not a number")
    try:
        number = float(value)
    except ValueError as exc:
        raise BadRequest(f"{key} is not a number") from exc
    if not math.isfinite(number) or abs(number) > bound:
        raise BadRequest(f"{key} out of range")
    return number


def epoch(value: int | float, *, millis: bool = False, where: str = "timestamp") -> datetime:
    """A platform's Unix time (seconds, or milliseconds for LINE) as an aware UTC datetime."""
    seconds = value / 1000 if millis else value
    if not 0 <= seconds < _MAX_EPOCH_SECONDS:
        raise BadRequest(f"{where} is not a Unix time")
    return datetime.fromtimestamp(seconds, tz=UTC)
