"""Business-hours calendars: the pure schedule maths (``hours``) and their storage with the admin
API's service (``service``). Routing rules ask whether a calendar is open; SLA deadlines count only
open time."""

from __future__ import annotations

from chalicelib.calendars.hours import BusinessHours, NeverOpen, TooFar

__all__ = ["BusinessHours", "NeverOpen", "TooFar"]
