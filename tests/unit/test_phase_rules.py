"""Phases, the action rules the flags and services share, and idempotency-key rules: no database."""

from datetime import datetime, timedelta, timezone

import pytest

from app.errors import ErrorCode
from app.group_sessions import rules
from app.group_sessions.rules import SessionPhase

START = datetime(2027, 3, 29, 15, tzinfo=timezone.utc)
END = START + timedelta(minutes=60)


@pytest.mark.parametrize("now, cancelled, phase", [
    (START - timedelta(microseconds=1), False, SessionPhase.UPCOMING),
    (START, False, SessionPhase.LIVE),  # the start instant is under way
    (END - timedelta(microseconds=1), False, SessionPhase.LIVE),
    (END, False, SessionPhase.ENDED),  # the end instant has ended
    (START - timedelta(days=1), True, SessionPhase.CANCELLED),
    (END + timedelta(days=1), True, SessionPhase.CANCELLED),
])
def test_phase_boundaries(now, cancelled, phase):
    assert rules.session_phase(is_cancelled=cancelled, starts_at=START, ends_at=END, now=now) == phase


def test_phase_compares_instants_not_offsets():
    paris = timezone(timedelta(hours=2))
    assert rules.session_phase(
        is_cancelled=False, starts_at=START, ends_at=END, now=START.astimezone(paris)
    ) == SessionPhase.LIVE


@pytest.mark.parametrize("phase, edit, reschedule, cancel", [
    (SessionPhase.UPCOMING, None, None, None),
    (SessionPhase.LIVE, None, ErrorCode.SESSION_STARTED, None),
    (SessionPhase.ENDED, ErrorCode.SESSION_STARTED, ErrorCode.SESSION_STARTED, ErrorCode.SESSION_STARTED),
    (SessionPhase.CANCELLED, ErrorCode.SESSION_CANCELLED, ErrorCode.SESSION_CANCELLED, ErrorCode.SESSION_CANCELLED),
])
def test_host_commands_by_phase(phase, edit, reschedule, cancel):
    assert rules.cannot_edit_reason(is_host=True, phase=phase) == edit
    assert rules.cannot_reschedule_reason(is_host=True, phase=phase) == reschedule
    assert rules.cannot_cancel_reason(is_host=True, phase=phase) == cancel
    for refusal in (rules.cannot_edit_reason, rules.cannot_reschedule_reason, rules.cannot_cancel_reason):
        assert refusal(is_host=False, phase=phase) == ErrorCode.FORBIDDEN


@pytest.mark.parametrize("registered, host, phase, reason", [
    (True, False, SessionPhase.UPCOMING, None),
    (True, False, SessionPhase.LIVE, ErrorCode.SESSION_STARTED),
    (True, False, SessionPhase.ENDED, ErrorCode.SESSION_STARTED),
    (True, False, SessionPhase.CANCELLED, ErrorCode.SESSION_CANCELLED),
    (True, True, SessionPhase.UPCOMING, ErrorCode.HOST_CANNOT_LEAVE),
    (False, False, SessionPhase.UPCOMING, ErrorCode.NOT_REGISTERED),
])
def test_leave_by_phase(registered, host, phase, reason):
    assert rules.cannot_leave_reason(is_registered=registered, is_host=host, phase=phase) == reason


def test_every_refusal_has_a_message():
    for messages, refusal in [
        (rules.EDIT_REFUSAL_MESSAGES, rules.cannot_edit_reason),
        (rules.RESCHEDULE_REFUSAL_MESSAGES, rules.cannot_reschedule_reason),
        (rules.CANCEL_REFUSAL_MESSAGES, rules.cannot_cancel_reason),
    ]:
        codes = {refusal(is_host=h, phase=p) for h in (True, False) for p in SessionPhase} - {None}
        assert codes <= set(messages)
    codes = {
        rules.cannot_leave_reason(is_registered=r, is_host=h, phase=p)
        for r in (True, False) for h in (True, False) for p in SessionPhase
    } - {None}
    assert codes <= set(rules.LEAVE_REFUSAL_MESSAGES)


@pytest.mark.parametrize("key, ok", [
    ("a", True), ("6f1c2a9e-3b7d-4e0a-9c55-2d8f1b7a4e10", True), ("~!" * 127 + "x", True), ("k" * 255, True),
    ("", False), ("k" * 256, False), ("a b", False), ("é", False), ("a\nb", False), ("\x00", False),
])
def test_idempotency_key_shape(key, ok):
    assert (rules.check_idempotency_key(key) == []) is ok


def test_fingerprint_is_canonical():
    base = {"title": "T", "starts_at": START, "guest_ids": [3, 1], "max_participants": None}
    same = {"max_participants": None, "guest_ids": [3, 1], "title": "T",
            "starts_at": START.astimezone(timezone(timedelta(hours=-5)))}
    assert rules.input_fingerprint(base) == rules.input_fingerprint(same)
    assert len(rules.input_fingerprint(base)) == 64
    for change in ({"title": "U"}, {"starts_at": START + timedelta(seconds=1)}, {"guest_ids": [1, 3]},
                   {"max_participants": 40}):
        assert rules.input_fingerprint({**base, **change}) != rules.input_fingerprint(base), change
