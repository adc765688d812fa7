"""Verification lock rules (product journey 1): at most 3 failed attempts per consumer, then 24 hours
locked; and at most 10 failures from one address (a phone number, a web chat session) across all
consumers in 24 hours, so one sender cannot try identity after identity."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable, Optional, Tuple

MAX_FAILED_ATTEMPTS = 3
MAX_FAILURES_PER_ADDRESS = 10
LOCK_DURATION = timedelta(hours=24)

Attempt = Tuple[datetime, bool]  # (attempted_at, succeeded)


def failures_since_success(attempts: Iterable[Attempt]) -> list:
    """Failed attempt times after the latest success, oldest first."""
    failures: list = []
    for attempted_at, succeeded in sorted(attempts):
        failures = [] if succeeded else failures + [attempted_at]
    return failures


def locked_until(attempts: Iterable[Attempt], now: datetime) -> Optional[datetime]:
    """When the lock ends, or None when the consumer may try to verify now."""
    recent = [at for at in failures_since_success(attempts) if now - at < LOCK_DURATION]
    if len(recent) < MAX_FAILED_ATTEMPTS:
        return None
    return recent[MAX_FAILED_ATTEMPTS - 1] + LOCK_DURATION


def attempts_left(attempts: Iterable[Attempt], now: datetime) -> int:
    recent = [at for at in failures_since_success(attempts) if now - at < LOCK_DURATION]
    return max(0, MAX_FAILED_ATTEMPTS - len(recent))


def address_locked_until(failures: Iterable[datetime], now: datetime) -> Optional[datetime]:
    """When an address may try again after too many failures, whoever it claimed to be; a success resets nothing."""
    recent = sorted(at for at in failures if now - at < LOCK_DURATION)
    if len(recent) < MAX_FAILURES_PER_ADDRESS:
        return None
    return recent[-MAX_FAILURES_PER_ADDRESS] + LOCK_DURATION


def later(*moments: Optional[datetime]) -> Optional[datetime]:
    present = [m for m in moments if m is not None]
    return max(present) if present else None
