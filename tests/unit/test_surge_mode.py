"""Surge mode's switch: on at the thresholds, off only after enough calm minutes in a row."""

from __future__ import annotations

from chalicelib.routing.surge import Thresholds, decide

T = Thresholds(on_waiting=20, off_waiting=5, on_backlog=500, off_backlog=100, calm_checks=3)


def run(minutes: list[tuple[int, int]]) -> list[bool]:
    state = None
    seen = []
    for waiting, backlog in minutes:
        state = decide(state, waiting, backlog, T)
        seen.append(state["on"])
    return seen


def test_a_long_queue_or_a_backlog_switches_surge_mode_on():
    assert run([(19, 0)]) == [False]
    assert run([(20, 0)]) == [True]
    assert run([(0, 500)]) == [True]


def test_it_stays_on_between_the_thresholds_and_goes_off_after_three_calm_minutes_in_a_row():
    minutes = [(25, 0), (12, 0), (5, 0), (4, 0), (30, 0), (3, 0), (2, 0), (1, 0), (12, 0)]
    assert run(minutes) == [True, True, True, True, True, True, True, False, False]


def test_a_backlog_above_its_calm_level_keeps_it_on_however_short_the_queue():
    assert run([(25, 0), (0, 150), (0, 150), (0, 150), (0, 90), (0, 90), (0, 90)]) == [
        True,
        True,
        True,
        True,
        True,
        True,
        False,
    ]
