"""Cheap argon2 parameters for these tests: they sign in and fail to sign in many times."""

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher

from app.auth import crypto


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """argon2id at its lowest cost; what is tested is the flow, not the hash's strength."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(crypto, "_hasher", cheap)
    dummy = cheap.hash("dummy")
    monkeypatch.setattr(crypto, "_dummy_hash", lambda: dummy)
    yield
