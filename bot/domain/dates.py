"""Dates the way consumers type them, in English and Spanish.

Consumers write "3/4/85", "March 4th 1985", "4 de marzo de 1985" or "1985-03-04". US consumers read
numeric dates month first, so "3/4/85" is March 4th whatever the language; ISO dates are year first.
"""
from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Optional

MONTHS = {
    # English
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
    "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12,
    # Spanish
    "enero": 1, "ene": 1, "febrero": 2, "marzo": 3, "abril": 4, "abr": 4, "mayo": 5, "junio": 6,
    "julio": 7, "agosto": 8, "ago": 8, "septiembre": 9, "setiembre": 9, "set": 9, "octubre": 10,
    "noviembre": 11, "diciembre": 12, "dic": 12,
}

_ISO = re.compile(r"\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\b")
_NUMERIC = re.compile(r"\b(\d{1,2})[-/.](\d{1,2})[-/.](\d{2}|\d{4})\b")
_COMPACT = re.compile(r"\b(\d{2})(\d{2})(\d{4})\b")
_WORD_TOKEN = re.compile(r"[a-záéíóúñ]+|\d+")
_FILLER = {"de", "del", "of", "the", "st", "nd", "rd", "th", "el", "born", "on", "naci", "nací"}


def parse_date(text: str, *, today: Optional[date] = None) -> Optional[date]:
    """Return the calendar date in `text`, or None when there is none or it is ambiguous nonsense."""
    today = today or date.today()
    lowered = text.lower().strip()
    for parser in (_parse_iso, _parse_numeric, _parse_compact, _parse_words):
        found = parser(lowered, today)
        if found is not None:
            return found
    return None


def parse_date_of_birth(text: str, *, today: Optional[date] = None) -> Optional[date]:
    """A date of birth: a parsed date that lies in the past and within a human lifetime."""
    today = today or date.today()
    found = parse_date(text, today=today)
    if found is None or found >= today or found.year < today.year - 120:
        return None
    return found


def _safe_date(year: int, month: int, day: int) -> Optional[date]:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _full_year(year: int, today: date) -> int:
    """Two-digit years: the most recent year ending in those digits that is not in the future."""
    if year >= 100:
        return year
    century = today.year - today.year % 100
    candidate = century + year
    return candidate if candidate <= today.year else candidate - 100


def _parse_iso(text: str, today: date) -> Optional[date]:
    match = _ISO.search(text)
    if not match:
        return None
    year, month, day = (int(part) for part in match.groups())
    return _safe_date(year, month, day)


def _parse_numeric(text: str, today: date) -> Optional[date]:
    match = _NUMERIC.search(text)
    if not match:
        return None
    first, second, year = (int(part) for part in match.groups())
    year = _full_year(year, today)
    # Month first, as US consumers write it; a first number above 12 can only be a day.
    if first > 12 >= second:
        return _safe_date(year, second, first)
    return _safe_date(year, first, second)


def _parse_compact(text: str, today: date) -> Optional[date]:
    match = _COMPACT.search(text)
    if not match:
        return None
    month, day, year = (int(part) for part in match.groups())
    return _safe_date(year, month, day)


def _parse_words(text: str, today: date) -> Optional[date]:
    """'March 4th 1985', '4 de marzo de 1985', 'mar 4 85'."""
    tokens = [t for t in _WORD_TOKEN.findall(_strip_ordinals(text)) if t not in _FILLER]
    month_positions = [i for i, t in enumerate(tokens) if t in MONTHS]
    if not month_positions:
        return None
    position = month_positions[0]
    month = MONTHS[tokens[position]]
    numbers = [(i, int(t)) for i, t in enumerate(tokens) if t.isdigit()]
    day = next((n for i, n in numbers if 1 <= n <= 31 and len(tokens[i]) <= 2), None)
    year = next((n for i, n in numbers if len(tokens[i]) == 4), None)
    if year is None:
        two_digit = [n for i, n in numbers if len(tokens[i]) == 2 and n != day]
        year = _full_year(two_digit[-1], today) if two_digit else None
    if day is None or year is None:
        return None
    return _safe_date(year, month, day)


def _strip_ordinals(text: str) -> str:
    return re.sub(r"(\d+)(st|nd|rd|th|º|°|ro)\b", r"\1", text)


WEEKDAYS = {
    "monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2, "thursday": 3,
    "thu": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5, "sunday": 6, "sun": 6,
    "lunes": 0, "martes": 1, "miercoles": 2, "miércoles": 2, "jueves": 3, "viernes": 4, "sabado": 5,
    "sábado": 5, "domingo": 6,
}
_RELATIVE_DAYS = {"today": 0, "hoy": 0, "tomorrow": 1, "tmrw": 1, "tmr": 1, "mañana": 1, "manana": 1}
_IN_PERIOD = re.compile(r"\b(?:in|en|dentro de)\s+(\d{1,2}|a|one|two|un|una|dos)\s+"
                        r"(days?|weeks?|d[ií]as?|semanas?)\b")
_NEXT_WEEK = re.compile(r"\b(next week|la pr[oó]xima semana|la semana que viene)\b")
_DAY_OF_MONTH = re.compile(r"\b(?:the|el|on the|día|dia)\s+(\d{1,2})(?:st|nd|rd|th)?\b")
_MONTH_DAY = re.compile(r"\b(\d{1,2})[/-](\d{1,2})\b(?![/-]\d)")
_COUNTS = {"a": 1, "one": 1, "un": 1, "una": 1, "two": 2, "dos": 2}


def parse_future_date(text: str, *, today: date) -> Optional[date]:
    """A date on or after `today` as people name one: "next friday", "the 15th", "el 15", "12/1",
    "dec 1", "in 2 weeks", "mañana". Dates without a year mean their next occurrence."""
    lowered = _strip_ordinals(text.lower().strip())
    for parser in (_relative_day, _in_period, _next_week, _weekday, _full_date, _month_day,
                   _month_name_day, _day_of_month):
        found = parser(lowered, today)
        if found is not None:
            return found
    return None


def _relative_day(text: str, today: date) -> Optional[date]:
    if re.search(r"\b(day after tomorrow|pasado ma[nñ]ana)\b", text):
        return today + timedelta(days=2)
    for word, days in _RELATIVE_DAYS.items():
        if re.search(rf"\b{word}\b", text):
            return today + timedelta(days=days)
    return None


def _in_period(text: str, today: date) -> Optional[date]:
    match = _IN_PERIOD.search(text)
    if not match:
        return None
    count = int(match.group(1)) if match.group(1).isdigit() else _COUNTS[match.group(1)]
    unit_days = 7 if match.group(2).startswith(("week", "semana")) else 1
    return today + timedelta(days=count * unit_days)


def _next_week(text: str, today: date) -> Optional[date]:
    return today + timedelta(days=7) if _NEXT_WEEK.search(text) else None


def _weekday(text: str, today: date) -> Optional[date]:
    for token in _WORD_TOKEN.findall(text):
        if token in WEEKDAYS:
            ahead = (WEEKDAYS[token] - today.weekday()) % 7 or 7
            return today + timedelta(days=ahead)
    return None


def _full_date(text: str, today: date) -> Optional[date]:
    found = parse_date(text, today=today)
    return found if found is not None and found >= today else None


def _month_day(text: str, today: date) -> Optional[date]:
    match = _MONTH_DAY.search(text)
    if not match:
        return None
    return _next_occurrence(int(match.group(1)), int(match.group(2)), today)


def _month_name_day(text: str, today: date) -> Optional[date]:
    tokens = [t for t in _WORD_TOKEN.findall(text) if t not in _FILLER]
    for i, token in enumerate(tokens):
        if token in MONTHS:
            neighbours = tokens[max(0, i - 1):i] + tokens[i + 1:i + 2]
            day = next((int(t) for t in neighbours if t.isdigit() and 1 <= int(t) <= 31), None)
            if day is not None:
                return _next_occurrence(MONTHS[token], day, today)
    return None


def _day_of_month(text: str, today: date) -> Optional[date]:
    match = _DAY_OF_MONTH.search(text)
    if not match or not 1 <= int(match.group(1)) <= 31:
        return None
    day = int(match.group(1))
    for months_ahead in range(0, 3):
        month = (today.month - 1 + months_ahead) % 12 + 1
        year = today.year + (today.month - 1 + months_ahead) // 12
        candidate = _safe_date(year, month, day)
        if candidate is not None and candidate >= today:
            return candidate
    return None


def _next_occurrence(month: int, day: int, today: date) -> Optional[date]:
    this_year = _safe_date(today.year, month, day)
    if this_year is not None and this_year >= today:
        return this_year
    return _safe_date(today.year + 1, month, day)
