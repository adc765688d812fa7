"""Locale-aware formatting of money and dates, always through Babel."""
from __future__ import annotations

from datetime import date, datetime
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.dates import get_date_format, get_datetime_format, get_time_format
from babel.numbers import format_currency

from bot.domain.money import Money

LOCALES = {"en": "en_US", "es": "es_US"}
DEFAULT_LANGUAGE = "en"


def locale_for(language: str | None) -> str:
    """The Babel locale of a conversation language; unknown languages read as English."""
    return LOCALES.get(language or DEFAULT_LANGUAGE, LOCALES[DEFAULT_LANGUAGE])


def format_money(money: Money, locale: str) -> str:
    return format_currency(money.to_decimal(), money.currency, locale=locale)


def format_day(day: date, locale: str) -> str:
    return babel_format_date(day, format="medium", locale=locale)


def format_moment(moment: datetime, locale: str, tzinfo=None) -> str:
    """A date with an hour and minute ("Nov 23, 2026, 3:02 AM"): medium date, short time."""
    pattern = (
        get_datetime_format("medium", locale=locale)
        .replace("{1}", get_date_format("medium", locale=locale).pattern)
        .replace("{0}", get_time_format("short", locale=locale).pattern)
    )
    return babel_format_datetime(moment, format=pattern, tzinfo=tzinfo, locale=locale)


def format_moment_in_zone(moment: datetime, locale: str, tzinfo) -> str:
    """`format_moment` in `tzinfo`, with the zone's short name ("Nov 23, 2026, 9:00 AM EST")."""
    return f"{format_moment(moment, locale, tzinfo)} {babel_format_datetime(moment, 'z', tzinfo=tzinfo, locale=locale)}"
