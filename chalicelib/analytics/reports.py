"""Reports from the buckets only (docs/metrics.md): the overview of a range and time series.

A report reads the runs of ``buckets.cover`` for one dimension item (all, a group or an agent) —
one Query per run, at most five — and merges them; a channel filter picks the per-channel
attributes of the same items. Its cost grows with the buckets in the range, never with traffic.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import aws
from chalicelib.analytics import buckets, sketch
from chalicelib.analytics.aggregator import COUNTERS as KINDS
from chalicelib.analytics.aggregator import DURATIONS, table
from chalicelib.errors import Invalid

MAX_RANGE = timedelta(days=3660)
MAX_POINTS = 3000
COUNTERS = (*dict.fromkeys(KINDS.values()), "sla_met", "sla_breached", "csat_n")
RATIOS = ("sla_attainment", "csat_avg", "reopen_rate", "transfer_rate", "bot_resolution_rate")
METRICS = (
    *COUNTERS,
    *RATIOS,
    *(f"{d}_{s}" for d in DURATIONS for s in ("p50_s", "p90_s", "p95_s", "avg_s", "count")),
)


class BadRange(Invalid):
    code = "bad_range"


def _dimension(group: str | None, agent: str | None) -> str:
    if group and agent:
        raise Invalid("filter by group or by agent, not both")
    return f"group:{group}" if group else f"agent:{agent}" if agent else "all"


def utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def check_range(start: datetime, end: datetime) -> None:
    if end <= start:
        raise BadRange("'to' must be after 'from'")
    if end - start > MAX_RANGE:
        raise BadRange("the range is at most 10 years")


def _query(scope: str, first: str, last: str) -> Iterable[dict[str, Any]]:
    client, kwargs = (
        aws.client("dynamodb"),
        {
            "TableName": table(),
            "KeyConditionExpression": "#s = :s AND #b BETWEEN :f AND :l",
            "ReturnConsumedCapacity": "TOTAL",  # make bench sums the read units
            "ExpressionAttributeNames": {"#s": "scope", "#b": "bucket"},
            "ExpressionAttributeValues": {":s": {"S": scope}, ":f": {"S": first}, ":l": {"S": last}},
        },
    )
    while True:
        page = client.query(**kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _numbers(item: Mapping[str, Any]) -> dict[str, int]:
    return {k: int(v["N"]) for k, v in item.items() if "N" in v and k != "expires_at"}


def totals(start: datetime, end: datetime, dimension: str) -> dict[str, int]:
    """Every attribute summed over ``[start, end)`` for one dimension item."""
    out: dict[str, int] = {}
    for run in buckets.cover(start, end):
        for item in _query(buckets.scope(run.grain, dimension), run.first, run.last):
            for k, n in _numbers(item).items():
                out[k] = out.get(k, 0) + n
    return out


def _pick(values: Mapping[str, int], tag: str | None) -> dict[str, int]:
    """The attributes of one breakdown (``tag`` e.g. ``channel:line``: ``x@channel:line#i`` →
    ``x#i``), or the totals (``tag`` None: the attributes without ``@``)."""
    if tag is None:
        return {k: n for k, n in values.items() if "@" not in k}
    out: dict[str, int] = {}
    for k, n in values.items():
        name, _, rest = k.partition("@")
        if rest == tag or rest.startswith(tag + "#"):
            out[name + rest[len(tag) :]] = n
    return out


def _by(values: Mapping[str, int], counter: str, breakdown: str) -> dict[str, int]:
    prefix = f"{counter}@{breakdown}:"
    return {k[len(prefix) :]: n for k, n in sorted(values.items()) if k.startswith(prefix) and "#" not in k}


def duration(values: Mapping[str, int], name: str) -> dict[str, Any]:
    n = values.get(f"{name}_n", 0)
    prefix = f"{name}#"
    merged = {int(k[len(prefix) :]): v for k, v in values.items() if k.startswith(prefix)}
    return {
        "count": n,
        "avg_s": round(values.get(f"{name}_sum", 0) / n, 1) if n else None,
        "p50_s": sketch.quantile(merged, 0.5),
        "p90_s": sketch.quantile(merged, 0.9),
        "p95_s": sketch.quantile(merged, 0.95),
    }


def overview(
    start: datetime,
    end: datetime,
    *,
    group: str | None = None,
    channel: str | None = None,
    agent: str | None = None,
) -> dict[str, Any]:
    start, end = utc(start), utc(end)
    check_range(start, end)
    raw = totals(start, end, _dimension(group, agent))
    v = _pick(raw, f"channel:{channel}" if channel else None)

    def counter(name: str, breakdowns: tuple[str, ...] = ("channel",)) -> dict[str, Any]:
        out: dict[str, Any] = {"total": v.get(name, 0)}
        for b in breakdowns:
            if b == "channel" and channel:
                out["by_channel"] = {channel: v.get(name, 0)}
            else:
                out[f"by_{b}"] = _by(raw, name, b) if channel is None or b == "channel" else {}
        return out

    met, breached = v.get("sla_met", 0), v.get("sla_breached", 0)
    rate = ratios(v)
    csat_n = v.get("csat_n", 0)
    promoters, detractors = v.get("csat_5", 0), sum(v.get(f"csat_{s}", 0) for s in (1, 2, 3))
    bot_ended = sum(
        v.get(k, 0) for k in ("bot_resolved", "bot_handed_off", "bot_abandoned", "bot_taken_over")
    )
    return {
        "from": buckets.key(start, "minute"),
        "to": buckets.key(end, "minute"),
        "filters": {k: x for k, x in (("group", group), ("channel", channel), ("agent", agent)) if x},
        "conversations": counter("conversations", ("channel", "priority")),
        "messages_in": counter("messages_in"),
        "messages_out": counter("messages_out"),
        "resolved": counter("resolved"),
        "first_response": duration(v, "first_response"),
        "resolution": duration(v, "resolution"),
        "wait": duration(v, "wait"),
        "handle": duration(v, "handle"),
        "assigned": counter("assigned"),
        "transfers": counter("transfers") | {"rate": rate["transfer_rate"]},
        "reopened": counter("reopened") | {"rate": rate["reopen_rate"]},
        "sla": {
            "first_response_met": met,
            "first_response_breached": breached,
            "attainment": rate["sla_attainment"],
            "breaches": v.get("sla_breaches", 0),
        },
        "csat": {
            "responses": csat_n,
            "avg": rate["csat_avg"],
            "satisfied_rate": _rate(v.get("csat_4", 0) + promoters, csat_n),
            "nps": round(100 * (promoters - detractors) / csat_n, 1) if csat_n else None,
            "by_score": {str(s): v.get(f"csat_{s}", 0) for s in range(1, 6)},
        },
        "bot": {
            "conversations": v.get("bot_conversations", 0),
            "resolved": v.get("bot_resolved", 0),
            "handed_off": v.get("bot_handed_off", 0),
            "abandoned": v.get("bot_abandoned", 0),
            "taken_over": v.get("bot_taken_over", 0),
            "resolution_rate": rate["bot_resolution_rate"],
            "handoff_rate": _rate(v.get("bot_handed_off", 0), bot_ended),
            "abandonment_rate": _rate(v.get("bot_abandoned", 0), bot_ended),
        },
    }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def ratios(v: Mapping[str, int]) -> dict[str, float | None]:
    """The ratio metrics of docs/metrics.md from summed counters."""
    met, breached = v.get("sla_met", 0), v.get("sla_breached", 0)
    csat_n = v.get("csat_n", 0)
    bot_ended = sum(
        v.get(k, 0) for k in ("bot_resolved", "bot_handed_off", "bot_abandoned", "bot_taken_over")
    )
    return {
        "sla_attainment": _rate(met, met + breached),
        "csat_avg": round(v.get("csat_sum", 0) / csat_n, 2) if csat_n else None,
        "reopen_rate": _rate(v.get("reopened", 0), v.get("resolved", 0)),
        "transfer_rate": _rate(v.get("transfers", 0), v.get("assigned", 0)),
        "bot_resolution_rate": _rate(v.get("bot_resolved", 0), bot_ended),
    }


def _value(values: Mapping[str, int], metric: str) -> float | int | None:
    if metric in COUNTERS:
        return values.get(metric, 0)
    if metric in RATIOS:
        return ratios(values)[metric]
    name = next(d for d in DURATIONS if metric.startswith(d + "_"))
    stat: float | int | None = duration(values, name)[metric[len(name) + 1 :]]
    return stat


def timeseries(
    metric: str,
    interval: str,
    start: datetime,
    end: datetime,
    *,
    by: str | None = None,
    group: str | None = None,
    agent: str | None = None,
) -> dict[str, Any]:
    """One point per bucket of ``interval`` in ``[start, end)`` (one Query); ``by=channel`` or
    ``priority`` adds the breakdown of each point."""
    start, end = utc(start), utc(end)
    check_range(start, end)
    keys = buckets.series(start, end, interval)
    if len(keys) > MAX_POINTS:
        raise BadRange(f"at most {MAX_POINTS} points: choose a coarser interval")
    keep = buckets.KEEP[interval]
    if keep is not None and buckets.floor(start, interval) < buckets.floor(_now(), interval) - keep:
        raise BadRange(f"{interval} buckets are kept {keep}: choose a coarser interval")
    found: dict[str, dict[str, int]] = {}
    if keys:
        scope = buckets.scope(interval, _dimension(group, agent))
        for item in _query(scope, keys[0], keys[-1]):
            found[item["bucket"]["S"]] = _numbers(item)
    points = []
    for k in keys:
        raw = found.get(k, {})
        point: dict[str, Any] = {
            "t": buckets.start_of(k, interval).isoformat().replace("+00:00", "Z"),
            "value": _value(_pick(raw, None), metric),
        }
        if by:
            tags = sorted({a.split("@", 1)[1].split("#", 1)[0] for a in raw if f"@{by}:" in a})
            point["by"] = {t.split(":", 1)[1]: _value(_pick(raw, t), metric) for t in tags}
        points.append(point)
    return {"metric": metric, "interval": interval, "points": points}


def value_over(
    metric: str,
    start: datetime,
    end: datetime,
    *,
    group: str | None = None,
    agent: str | None = None,
    channel: str | None = None,
) -> float | int | None:
    """One metric over ``[start, end)`` (the alerts' evaluation): the runs of ``buckets.cover``."""
    start, end = utc(start), utc(end)
    check_range(start, end)
    raw = totals(start, end, _dimension(group, agent))
    return _value(_pick(raw, f"channel:{channel}" if channel else None), metric)


def _now() -> datetime:
    from chalicelib.messages import utcnow

    return utcnow()


def rows(report: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """The overview flattened to (metric, value) rows: ``conversations.by_channel.line``."""
    out: list[tuple[str, Any]] = []
    for k, x in report.items():
        name = f"{prefix}{k}"
        if isinstance(x, Mapping):
            out.extend(rows(x, name + "."))
        else:
            out.append((name, "" if x is None else x))
    return out


def to_csv(report: Mapping[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("metric", "value"))
    writer.writerows(rows(report))
    return buf.getvalue()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def to_xlsx(report: Mapping[str, Any], title: str = "overview") -> bytes:
    """The same rows as ``to_csv`` in an Excel workbook (openpyxl, imported only for an export)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append(["metric", "value"])
    for name, value in rows(report):
        sheet.append([name, value])
    sheet.column_dimensions["A"].width = 48
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def export(report: Mapping[str, Any], fmt: str) -> tuple[bytes | str, str]:
    """A report as ``csv`` or ``xlsx``: (body, content type)."""
    if fmt == "xlsx":
        return to_xlsx(report), XLSX
    return to_csv(report), "text/csv"
