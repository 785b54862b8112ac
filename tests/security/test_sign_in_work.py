"""signIn does the same argon2 work whether the email is known or not: one verification,
with the cost parameters of a real user's hash. Counted at argon2 itself, not timed."""

from __future__ import annotations

import argon2
import argon2._password_hasher
import argon2.low_level
import pytest

from app.accounts import services as accounts
from tests.documents import SIGN_IN


@pytest.fixture
def argon2_verifications(monkeypatch) -> list[argon2.Parameters]:
    """The parameters of every argon2 verification this test runs (the real one still runs)."""
    seen: list[argon2.Parameters] = []
    real = argon2.low_level.verify_secret

    def counting_verify_secret(hash: bytes, secret: bytes, type: argon2.Type) -> bool:
        seen.append(argon2.extract_parameters(hash.decode("ascii")))
        return real(hash, secret, type)

    # PasswordHasher.verify calls the name its module imported; code may also use low_level.
    monkeypatch.setattr(argon2._password_hasher, "verify_secret", counting_verify_secret)
    monkeypatch.setattr(argon2.low_level, "verify_secret", counting_verify_secret)
    return seen


async def test_an_unknown_email_costs_one_verification_like_a_known_one(api, app, argon2_verifications):
    alice = await accounts.create_user(email="alice@example.org", name="Alice", password="correct horse")
    real_cost = argon2.extract_parameters(alice.password_hash)

    attempts = {
        "known email, wrong password": ("alice@example.org", "wrong"),
        "unknown email": ("nobody@example.org", "correct horse"),
        "email too long to be anyone's": ("x" * 300 + "@example.org", "correct horse"),
        "known email, right password": ("alice@example.org", "correct horse"),
    }
    work = {}
    for label, (email, password) in attempts.items():
        argon2_verifications.clear()
        result = (await api.data(SIGN_IN, {"email": email, "password": password}))["signIn"]
        succeeded = result["token"] is not None
        assert succeeded == (label == "known email, right password"), (label, result)
        work[label] = list(argon2_verifications)

    assert work == {label: [real_cost] for label in attempts}
