"""Verification lock rule (product journey 1): at most 3 failed attempts, then 24 hours locked."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable, Optional, Tuple

MAX_FAILED_ATTEMPTS = 3
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
