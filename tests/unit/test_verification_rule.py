from datetime import datetime, timedelta, timezone

from bot.domain.verification import attempts_left, locked_until

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def at(minutes_ago: int) -> datetime:
    return NOW - timedelta(minutes=minutes_ago)


def test_two_failures_leave_one_attempt():
    attempts = [(at(10), False), (at(5), False)]
    assert locked_until(attempts, NOW) is None
    assert attempts_left(attempts, NOW) == 1


def test_third_failure_locks_for_24_hours_from_it():
    attempts = [(at(10), False), (at(5), False), (at(1), False)]
    assert locked_until(attempts, NOW) == at(1) + timedelta(hours=24)


def test_a_success_resets_the_count():
    attempts = [(at(30), False), (at(20), False), (at(15), True), (at(10), False), (at(5), False)]
    assert locked_until(attempts, NOW) is None


def test_failures_older_than_a_day_no_longer_count():
    attempts = [(at(60 * 25), False), (at(60 * 24 + 30), False), (at(5), False)]
    assert locked_until(attempts, NOW) is None
    assert attempts_left(attempts, NOW) == 2


def test_one_address_may_fail_ten_times_a_day_whoever_it_claims_to_be():
    from bot.domain.verification import address_locked_until

    assert address_locked_until([at(m) for m in range(1, 10)], NOW) is None  # 9 failures
    failures = [at(m) for m in range(1, 11)]  # the 10th
    assert address_locked_until(failures, NOW) == at(10) + timedelta(hours=24)
    assert address_locked_until([at(60 * 25)] * 20, NOW) is None  # older than a day
