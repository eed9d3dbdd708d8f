"""Calendars in the ``config`` table: kind ``calendar``, one item per calendar name."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, UnicodeAttribute, VersionAttribute

from chalicelib.db import Model, meta

CALENDAR = "calendar"


class CalendarItem(Model):
    Meta = meta("config")

    kind = UnicodeAttribute(hash_key=True, default=CALENDAR)
    name = UnicodeAttribute(range_key=True)
    definition = JSONAttribute()  # a BusinessHours as JSON
    version = VersionAttribute()
    updated_at = UnicodeAttribute()
    updated_by = UnicodeAttribute()
