from datetime import date

import pytest

from bot.domain.dates import parse_date, parse_date_of_birth, parse_future_date

TODAY = date(2026, 11, 22)


@pytest.mark.parametrize(
    "text",
    [
        "3/4/85",  # US numeric, two-digit year
        "03/04/1985",  # US numeric, four-digit year
        "3-4-85",  # dashes
        "1985-03-04",  # ISO
        "March 4th 1985",  # English words with ordinal
        "march 4, 1985",  # comma
        "mar 4 85",  # abbreviation, two-digit year
        "born on the 4th of march 1985",  # day before month in English
        "4 de marzo de 1985",  # Spanish
        "el 4 de marzo del 85",  # Spanish, two-digit year
        "03041985",  # digits only, MMDDYYYY
        "my dob is 3/4/85 thx",  # inside a sentence
    ],
)
def test_dates_as_people_type_them(text):
    assert parse_date_of_birth(text, today=TODAY) == date(1985, 3, 4)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("13/04/1985", date(1985, 4, 13)),  # a first number above 12 can only be the day
        ("23 de noviembre de 1979", date(1979, 11, 23)),
        ("12/2/05", date(2005, 12, 2)),  # two-digit year in this century when not in the future
    ],
)
def test_unambiguous_readings(text, expected):
    assert parse_date_of_birth(text, today=TODAY) == expected


@pytest.mark.parametrize(
    "text",
    [
        "hello",  # no date at all
        "2/30/1990",  # no such day
        "1/1/2030",  # in the future
        "1/1/1800",  # beyond a lifetime
        "march",  # a month alone
        "94110",  # a ZIP code is not a date
    ],
)
def test_not_a_date_of_birth(text):
    assert parse_date_of_birth(text, today=TODAY) is None


def test_plain_dates_may_lie_in_the_future():
    assert parse_date("12/1/2026", today=TODAY) == date(2026, 12, 1)


# Sunday 22 November 2026
@pytest.mark.parametrize(
    "text, expected",
    [
        ("next friday", date(2026, 11, 27)),  # the coming Friday
        ("el viernes", date(2026, 11, 27)),  # Spanish weekday
        ("the 15th", date(2026, 12, 15)),  # this month's 15th has passed
        ("el 15", date(2026, 12, 15)),  # Spanish day of month
        ("on the 30th", date(2026, 11, 30)),  # still ahead this month
        ("12/1", date(2026, 12, 1)),  # month/day without a year
        ("dec 1", date(2026, 12, 1)),  # month name
        ("1 de diciembre", date(2026, 12, 1)),  # Spanish month name
        ("tomorrow", date(2026, 11, 23)),
        ("mañana", date(2026, 11, 23)),
        ("in 2 weeks", date(2026, 12, 6)),
        ("en 10 dias", date(2026, 12, 2)),
        ("next week", date(2026, 11, 29)),
        ("12/01/2026", date(2026, 12, 1)),  # a full date
    ],
)
def test_future_dates_as_people_name_them(text, expected):
    assert parse_future_date(text, today=TODAY) == expected


@pytest.mark.parametrize("text", ["when i get paid", "$50", "1/1/2020"])
def test_not_future_dates(text):
    assert parse_future_date(text, today=TODAY) is None
