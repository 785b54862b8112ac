"""Pure rules: no database."""

from datetime import datetime, timedelta, timezone

import pytest

from app.errors import ErrorCode
from app.group_sessions import rules

NOW = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)


def codes(problems):
    return [p.code for p in problems]


def test_clean_text_trims_and_drops_control_characters():
    assert rules.clean_text("  a\x00b\x1bc\td\ne\x7f  ") == "abc\td\ne"


@pytest.mark.parametrize("minimum, maximum, expected", [
    (1, 2, []), (1, 1000, []), (2, 2, []),
    (0, 40, [ErrorCode.OUT_OF_RANGE]), (1, 1, [ErrorCode.OUT_OF_RANGE]), (1, 1001, [ErrorCode.OUT_OF_RANGE]),
    (5, 4, [ErrorCode.MIN_ABOVE_MAX]), (0, 1, [ErrorCode.OUT_OF_RANGE, ErrorCode.OUT_OF_RANGE]),
])
def test_participant_bounds(minimum, maximum, expected):
    assert codes(rules.check_participant_bounds(minimum, maximum)) == expected


@pytest.mark.parametrize("minutes, ok", [(4, False), (5, True), (1440, True), (1441, False), (-1, False)])
def test_duration_bounds(minutes, ok):
    assert (rules.check_duration(minutes) == []) is ok


def test_starts_at_must_be_in_the_future_and_not_absurdly_far():
    assert codes(rules.check_starts_at(NOW, NOW)) == [ErrorCode.IN_THE_PAST]
    assert rules.check_starts_at(NOW + timedelta(minutes=1), NOW) == []
    assert codes(rules.check_starts_at(NOW + timedelta(days=366 * 6), NOW)) == [ErrorCode.OUT_OF_RANGE]


def test_text_rules():
    assert codes(rules.check_text("", "title", 200)) == [ErrorCode.REQUIRED]
    assert codes(rules.check_text("x" * 201, "title", 200)) == [ErrorCode.TOO_LONG]
    assert rules.check_text("x" * 200, "title", 200) == []
    assert rules.check_text(None, "reason", 10, required=False) == []


def test_cannot_join_reasons_lists_every_reason_in_order():
    base = dict(is_member=True, is_registered=False, is_cancelled=False, starts_at=NOW + timedelta(days=1),
                participant_count=1, max_participants=2, now=NOW)
    assert rules.cannot_join_reasons(**base) == []
    assert rules.cannot_join_reasons(**{**base, "is_member": False}) == [ErrorCode.NOT_A_MEMBER]
    everything = {**base, "is_registered": True, "is_cancelled": True, "starts_at": NOW, "participant_count": 2}
    assert rules.cannot_join_reasons(**everything) == [
        ErrorCode.ALREADY_REGISTERED, ErrorCode.SESSION_CANCELLED, ErrorCode.SESSION_STARTED, ErrorCode.SESSION_FULL]


def test_max_not_below_count():
    assert codes(rules.check_max_not_below_count(3, 4)) == [ErrorCode.BELOW_PARTICIPANT_COUNT]
    assert rules.check_max_not_below_count(4, 4) == []


def test_clean_text_drops_lone_surrogates():
    assert rules.clean_text(" a\ud800b\udfffc ") == "abc"
    assert rules.clean_text("emoji 😀 stays") == "emoji 😀 stays"
