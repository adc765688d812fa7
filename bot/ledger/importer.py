"""Placement import: the creditors YAML and the placements CSV into the ledger.

Every row is checked and every problem reported at once (`line N: ...`, N the physical line, the
header being line 1); one bad row and nothing of the file is written. Re-importing the same file
changes nothing: placed items are matched by (account, item reference).
"""
from __future__ import annotations

import csv
import json
import re
import zoneinfo
from dataclasses import dataclass, fields
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

import yaml
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.engine import Connection, Engine

from bot.domain.accounts import (
    CHANNELS,
    EXTENSION_POLICIES,
    FREQUENCIES,
    ROLES,
    Creditor,
    CreditorPolicy,
    account_ref_key,
    default_channels,
)
from bot.domain.disputes import DISPUTE_NOTICES
from bot.domain.money import Money, known_minor_digits
from bot.ledger import schema as t

COLUMNS = (
    "creditor_id", "account_ref", "first_name", "last_name", "date_of_birth", "postal_code", "phone",
    "email", "language", "timezone", "currency", "item_date", "item_reference", "item_description",
    "item_amount",
)
LANGUAGES = ("en", "es")
_PG_IMPORT_LOCK = 7_265_840_012
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_ZIP = re.compile(r"^\d{5}(-\d{4})?$")
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CREDITOR_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
PathLike = Union[str, Path]


class PlacementError(ValueError):
    """A placement or creditors file that cannot be imported; `errors` holds one line per problem."""

    def __init__(self, errors: Iterable[str]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


class CreditorsError(PlacementError):
    """The creditors file is invalid; each error names the creditor and the field."""


# --- creditors YAML ------------------------------------------------------------------------------


class _DecimalLoader(yaml.SafeLoader):
    """YAML floats become Decimal, so `min_installment: 19.99` never passes through a float."""


def _decimal_scalar(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    raw = loader.construct_scalar(node)
    try:
        return Decimal(raw.replace("_", ""))
    except ArithmeticError:  # .inf, .nan: left as text, rejected by the field check
        return raw


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _decimal_scalar)

_POLICY_KEYS = (
    "plans_allowed", "max_installments", "min_installment", "frequencies", "settlement_floor_percent",
    "promise_max_days", "extension_policy", "min_partial_payment", "dispute_notice",
)
_CREDITOR_KEYS = ("id", "name", "role", "channels", "original_creditor", "collector", "currency") + _POLICY_KEYS


class _FieldError(Exception):
    pass


def load_creditors(path: PathLike) -> Dict[str, Creditor]:
    """Read and validate a creditors file (`creditors:` list or a bare list), keyed by creditor id."""
    try:
        data = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_DecimalLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise CreditorsError([f"{path}: not valid YAML: {exc}"]) from exc
    return parse_creditors(data, source=str(path))


def parse_creditors(data: Any, source: str = "creditors file") -> Dict[str, Creditor]:
    """Validate already-loaded YAML data; every problem is collected into one CreditorsError."""
    entries = data.get("creditors") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not entries:
        raise CreditorsError([f"{source}: expected a non-empty list of creditors (or `creditors:` with one)"])
    creditors: Dict[str, Creditor] = {}
    errors: List[str] = []
    for index, entry in enumerate(entries, start=1):
        creditor, problems = _parse_creditor(entry, index)
        errors.extend(problems)
        if creditor is not None and creditor.id in creditors:
            errors.append(f"creditor {creditor.id!r}: field 'id': listed more than once")
        elif creditor is not None:
            creditors[creditor.id] = creditor
    if errors:
        raise CreditorsError(errors)
    return creditors


def _parse_creditor(entry: Any, index: int) -> Tuple[Optional[Creditor], List[str]]:
    if not isinstance(entry, dict):
        return None, [f"creditor #{index}: expected a mapping of fields, got {type(entry).__name__}"]
    label = f"creditor {entry['id']!r}" if isinstance(entry.get("id"), str) else f"creditor #{index}"
    errors = [f"{label}: field {key!r}: unknown field" for key in entry if key not in _CREDITOR_KEYS]
    values: Dict[str, Any] = {}
    for key, reader in _CREDITOR_READERS:
        try:
            values[key] = reader(entry, values)
        except _FieldError as exc:
            errors.append(f"{label}: field {key!r}: {exc}")
    if errors:
        return None, errors
    policy = CreditorPolicy(**{k: values[k] for k in _POLICY_KEYS}, currency=values["currency"])
    creditor = Creditor(
        id=values["id"],
        name=values["name"],
        role=values["role"],
        channels=values["channels"],
        policy=policy,
        original_creditor=values["original_creditor"],
        collector_name=values["collector"],
    )
    return creditor, []


def _text(entry: dict, key: str, required: bool) -> Optional[str]:
    value = entry.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _FieldError("required")
        return None
    if not isinstance(value, str):
        raise _FieldError(f"must be text, got {value!r}")
    return value.strip()


def _read_id(entry: dict, _: dict) -> str:
    value = _text(entry, "id", True)
    if not _CREDITOR_ID.match(value):
        raise _FieldError("must be lowercase letters, digits, '-' or '_' (at most 64)")
    return value


def _choice(entry: dict, key: str, choices: Tuple[str, ...], default: Optional[str]) -> str:
    value = _text(entry, key, default is None) or default
    if value not in choices:
        raise _FieldError(f"must be one of {', '.join(choices)}; got {value!r}")
    return value


def _optional_choice(entry: dict, key: str, choices: Tuple[str, ...]) -> Optional[str]:
    return _choice(entry, key, choices, None) if entry.get(key) is not None else None


def _read_channels(entry: dict, values: dict) -> Optional[Tuple[str, ...]]:
    value = entry.get("channels")
    if value is None:
        return default_channels(values.get("role", "agency"))
    if not isinstance(value, list) or not value:
        raise _FieldError(f"must be a non-empty list of {', '.join(CHANNELS)}")
    unknown = [c for c in value if c not in CHANNELS]
    if unknown or len(set(value)) != len(value):
        raise _FieldError(f"must list each of {', '.join(CHANNELS)} at most once; got {value!r}")
    return tuple(value)


def _read_currency(entry: dict, _: dict) -> str:
    value = _text(entry, "currency", False) or "USD"
    if not _known_currency(value):
        raise _FieldError(f"must be an ISO 4217 code like USD; got {value!r}")
    return value


def _read_bool(key: str, default: bool):
    def read(entry: dict, _: dict) -> bool:
        value = entry.get(key, default)
        if not isinstance(value, bool):
            raise _FieldError(f"must be true or false; got {value!r}")
        return value

    return read


def _int(entry: dict, key: str, low: int, high: int, default: Optional[int]) -> Optional[int]:
    value = entry.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _FieldError(f"must be a whole number from {low} to {high}; got {value!r}")
    return value


def _read_max_installments(entry: dict, values: dict) -> int:
    if not values.get("plans_allowed"):
        return _int(entry, "max_installments", 1, 120, 1)
    if "max_installments" not in entry:
        raise _FieldError("required when plans_allowed is true")
    return _int(entry, "max_installments", 2, 120, None)


def _amount(entry: dict, key: str, currency: str) -> Optional[Money]:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise _FieldError(f"must be an amount in major units like 25.00; got {value!r}")
    try:
        money = Money.parse(str(value), currency)
    except ValueError as exc:
        raise _FieldError(str(exc)) from None
    if money.minor <= 0:
        raise _FieldError(f"must be greater than zero; got {value!r}")
    return money


def _read_frequencies(entry: dict, values: dict) -> Tuple[str, ...]:
    value = entry.get("frequencies")
    if value is None:
        return ("monthly",) if values.get("plans_allowed") else ()
    if not isinstance(value, list) or any(v not in FREQUENCIES for v in value) or len(set(value)) != len(value):
        raise _FieldError(f"must be a list of {', '.join(FREQUENCIES)}; got {value!r}")
    if values.get("plans_allowed") and not value:
        raise _FieldError("must not be empty when plans_allowed is true")
    return tuple(value)


def _read_collector(entry: dict, values: dict) -> Optional[str]:
    """An agency is its own collector unless the file names another."""
    collector = _text(entry, "collector", False)
    return collector or (values.get("name") if values.get("role") == "agency" else None)


def _min_partial(entry: dict, values: dict) -> Optional[int]:
    money = _amount(entry, "min_partial_payment", values.get("currency", "USD"))
    return money.minor if money else None


_CREDITOR_READERS = (
    ("id", _read_id),
    ("name", lambda e, v: _text(e, "name", True)),
    ("role", lambda e, v: _choice(e, "role", ROLES, None)),
    ("channels", _read_channels),
    ("original_creditor", lambda e, v: _text(e, "original_creditor", False)),
    ("collector", _read_collector),
    ("currency", _read_currency),
    ("plans_allowed", _read_bool("plans_allowed", False)),
    ("max_installments", _read_max_installments),
    ("min_installment", lambda e, v: _amount(e, "min_installment", v.get("currency", "USD"))),
    ("frequencies", _read_frequencies),
    ("settlement_floor_percent", lambda e, v: _int(e, "settlement_floor_percent", 1, 100, None)),
    ("promise_max_days", lambda e, v: _int(e, "promise_max_days", 1, 365, 14)),
    ("extension_policy", lambda e, v: _choice(e, "extension_policy", EXTENSION_POLICIES, "agent")),
    ("min_partial_payment", _min_partial),
    ("dispute_notice", lambda e, v: _optional_choice(e, "dispute_notice", DISPUTE_NOTICES)),
)


def _known_currency(code: str) -> bool:
    """Three uppercase letters that Babel or the money table knows."""
    if not re.match(r"^[A-Z]{3}$", code or ""):
        return False
    from babel.numbers import list_currencies  # Babel's tables load on first use, not at import

    return code in list_currencies() or known_minor_digits(code)


# --- placements CSV --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlacementRow:
    """One validated CSV row: one line item of one account."""

    line: int
    creditor_id: str
    account_ref: str
    first_name: str
    last_name: str
    date_of_birth: date
    postal_code: str
    phone: str
    email: Optional[str]
    language: str
    timezone: str
    currency: str
    item_date: date
    item_reference: str
    item_description: str
    item_amount: Money

    @property
    def consumer_key(self) -> Tuple[str, str, date, str]:
        """How a consumer is recognised across files: names (any case), date of birth, phone."""
        return (self.first_name.lower(), self.last_name.lower(), self.date_of_birth, self.phone)

    @property
    def consumer_details(self) -> Tuple[str, Optional[str], str, str]:
        return (self.postal_code, self.email, self.language, self.timezone)


def read_placements(path: PathLike, creditors: Dict[str, Creditor]) -> List[PlacementRow]:
    """Parse and validate the whole file; raises PlacementError listing every bad line."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            records = list(_records(handle))
    except UnicodeDecodeError as exc:
        raise PlacementError([f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from exc
    if not records:
        raise PlacementError(["line 1: the file is empty; expected a header row"])
    header_line, header = records[0]
    _check_header(header_line, header)
    rows: List[PlacementRow] = []
    errors: List[str] = []
    for line, values in records[1:]:
        row, problems = _parse_row(line, header, values, creditors)
        errors.extend(f"line {line}: {problem}" for problem in problems)
        if row is not None:
            rows.append(row)
    errors.extend(_cross_row_errors(rows))
    if errors:
        raise PlacementError(sorted(errors, key=_line_number))
    return rows


def _line_number(error: str) -> int:
    match = re.match(r"line (\d+):", error)
    return int(match.group(1)) if match else 0


def _records(handle) -> Iterable[Tuple[int, List[str]]]:
    """(first physical line, fields) per CSV record, skipping blank lines."""
    reader = csv.reader(handle)
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise PlacementError([f"line {start}: {exc}"]) from exc
        if any(v.strip() for v in values):
            yield start, values


def _check_header(line: int, header: List[str]) -> None:
    names = [h.strip() for h in header]
    missing = [c for c in COLUMNS if c not in names]
    unknown = [n for n in names if n not in COLUMNS]
    repeated = sorted({n for n in names if names.count(n) > 1})
    errors = []
    if missing:
        errors.append(f"line {line}: missing columns: {', '.join(missing)}")
    if unknown:
        errors.append(f"line {line}: unknown columns: {', '.join(unknown)} (expected {', '.join(COLUMNS)})")
    if repeated:
        errors.append(f"line {line}: repeated columns: {', '.join(repeated)}")
    if errors:
        raise PlacementError(errors)


def _parse_row(
    line: int, header: List[str], values: List[str], creditors: Dict[str, Creditor]
) -> Tuple[Optional[PlacementRow], List[str]]:
    if len(values) != len(header):
        return None, [f"expected {len(header)} fields, found {len(values)}"]
    raw = {name.strip(): value.strip() for name, value in zip(header, values)}
    parsed: Dict[str, Any] = {"line": line}
    errors: List[str] = []
    for column, check in _ROW_CHECKS:
        try:
            parsed[column] = check(raw[column], raw, creditors)
        except ValueError as exc:
            errors.append(f"{column}: {exc}")
    if errors:
        return None, errors
    return PlacementRow(**parsed), []


def _required(value: str, limit: int = 200) -> str:
    if not value:
        raise ValueError("required")
    if len(value) > limit:
        raise ValueError(f"longer than {limit} characters")
    return value


def _iso_date(value: str) -> date:
    if not _ISO_DATE.match(_required(value)):
        raise ValueError(f"{value!r} is not a date in YYYY-MM-DD form")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a real calendar date") from None


def _birth_date(value: str) -> date:
    born = _iso_date(value)
    if not date(1900, 1, 1) <= born < date.today():
        raise ValueError(f"{value!r} is not a plausible date of birth")
    return born


def _matching(pattern: "re.Pattern[str]", what: str, limit: int = 200):
    def check(value: str, *_: Any) -> str:
        if not pattern.match(_required(value, limit)):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return check


def _email(value: str, *_: Any) -> Optional[str]:
    if not value:
        return None
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an email address")
    return value


def _timezone(value: str, *_: Any) -> str:
    try:
        zoneinfo.ZoneInfo(_required(value, 64))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone like America/Chicago") from None
    if value in ("localtime", "posixrules") or ("/" not in value and value != "UTC"):
        raise ValueError(f"{value!r} is not an IANA time zone like America/Chicago")
    return value


def _creditor_id(value: str, _: dict, creditors: Dict[str, Creditor]) -> str:
    if _required(value, 64) not in creditors:
        raise ValueError(f"{value!r} is not in the creditors file")
    return value


def _currency(value: str, raw: dict, creditors: Dict[str, Creditor]) -> str:
    if not _known_currency(_required(value, 3)):
        raise ValueError(f"{value!r} is not an ISO 4217 currency code like USD")
    creditor = creditors.get(raw["creditor_id"])
    if creditor is not None and creditor.policy.currency != value:
        raise ValueError(f"{value} differs from creditor {creditor.id!r}'s currency {creditor.policy.currency}")
    return value


def _amount_in_row(value: str, raw: dict, _: Any) -> Optional[Money]:
    if not _known_currency(raw["currency"]):
        return None  # the currency error already rejects the row
    money = Money.parse(_required(value, 30), raw["currency"])
    if money.minor <= 0:
        raise ValueError(f"{value!r} must be greater than zero")
    return money


def _language(value: str, *_: Any) -> str:
    if value not in LANGUAGES:
        raise ValueError(f"{value!r} must be one of {', '.join(LANGUAGES)}")
    return value


_ROW_CHECKS = (
    ("creditor_id", _creditor_id),
    ("account_ref", _matching(_REF, "an account reference (letters, digits, '-', '.', '_')", 64)),
    ("first_name", lambda v, *_: _required(v, 100)),
    ("last_name", lambda v, *_: _required(v, 100)),
    ("date_of_birth", lambda v, *_: _birth_date(v)),
    ("postal_code", _matching(_ZIP, "a ZIP code (12345 or 12345-6789)", 10)),
    ("phone", _matching(_E164, "an E.164 phone number like +14155550101", 16)),
    ("email", _email),
    ("language", _language),
    ("timezone", _timezone),
    ("currency", _currency),
    ("item_date", lambda v, *_: _iso_date(v)),
    ("item_reference", lambda v, *_: _required(v, 100)),
    ("item_description", lambda v, *_: _required(v, 500)),
    ("item_amount", _amount_in_row),
)


def _cross_row_errors(rows: List[PlacementRow]) -> List[str]:
    """Rows of one account must agree; a consumer must look the same in every account of the file."""
    errors: List[str] = []
    first_of_account: Dict[str, PlacementRow] = {}
    first_of_key: Dict[str, PlacementRow] = {}
    first_of_consumer: Dict[tuple, PlacementRow] = {}
    seen_items: Dict[Tuple[str, str], int] = {}
    for row in rows:
        first = first_of_account.setdefault(row.account_ref, row)
        errors.extend(f"line {row.line}: {p}" for p in _account_disagreements(first, row))
        same_key = first_of_key.setdefault(account_ref_key(row.account_ref), row)
        if same_key.account_ref != row.account_ref:
            errors.append(f"line {row.line}: account_ref {row.account_ref!r} is too like "
                          f"{same_key.account_ref!r} (line {same_key.line}); references must differ "
                          "in more than case and punctuation")
        person = first_of_consumer.setdefault(row.consumer_key, row)
        if person.consumer_details != row.consumer_details and first is row:
            errors.append(f"line {row.line}: consumer details (postal_code, email, language, timezone) "
                          f"differ from line {person.line} for the same person")
        item = (row.account_ref, row.item_reference)
        if item in seen_items:
            errors.append(f"line {row.line}: item_reference {row.item_reference!r} repeats line "
                          f"{seen_items[item]} in account {row.account_ref}")
        seen_items.setdefault(item, row.line)
    return errors


_ACCOUNT_FIELDS = ("creditor_id", "currency", "first_name", "last_name", "date_of_birth", "postal_code",
                   "phone", "email", "language", "timezone")


def _account_disagreements(first: PlacementRow, row: PlacementRow) -> List[str]:
    return [
        f"{name} {getattr(row, name)!s:.40} differs from line {first.line} ({getattr(first, name)!s:.40}) "
        f"for account {row.account_ref}"
        for name in _ACCOUNT_FIELDS
        if getattr(first, name) != getattr(row, name)
    ]


# --- writing ---------------------------------------------------------------------------------------


@dataclass
class ImportSummary:
    """What an import changed; all zeros but items_unchanged on a re-import of the same file."""

    creditors_created: int = 0
    creditors_updated: int = 0
    consumers_created: int = 0
    consumers_updated: int = 0
    accounts_created: int = 0
    items_added: int = 0
    items_unchanged: int = 0

    def as_dict(self) -> Dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __str__(self) -> str:
        return "\n".join(f"{name.replace('_', ' ')}: {count}" for name, count in self.as_dict().items())


def import_placements(
    engine: Engine, placements: PathLike, creditors_file: PathLike, now: Optional[datetime] = None
) -> ImportSummary:
    """Validate both files, then write them in one transaction; PlacementError and nothing written."""
    creditors = load_creditors(creditors_file)
    rows = read_placements(placements, creditors)
    now = now or datetime.now(timezone.utc)
    with engine.connect() as connection:
        connection.execution_options(sqlite_begin="IMMEDIATE")
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_IMPORT_LOCK})
            return _Writer(connection, now).write(creditors, rows)


class _Writer:
    """Applies validated rows inside the caller's transaction, collecting conflicts with what is placed."""

    def __init__(self, connection: Connection, now: datetime) -> None:
        self.connection = connection
        self.now = now
        self.summary = ImportSummary()
        self.errors: List[str] = []

    def write(self, creditors: Dict[str, Creditor], rows: List[PlacementRow]) -> ImportSummary:
        for creditor in creditors.values():
            self._upsert_creditor(creditor)
        for account_rows in _group_by_account(rows):
            self._place_account(account_rows)
        if self.errors:
            raise PlacementError(sorted(self.errors, key=_line_number))  # rolls the transaction back
        return self.summary

    def _upsert_creditor(self, creditor: Creditor) -> None:
        values = _creditor_values(creditor)
        current = self.connection.execute(select(t.creditors).where(t.creditors.c.id == creditor.id)).first()
        if current is None:
            self.connection.execute(insert(t.creditors).values(**values, updated_at=self.now))
            self.summary.creditors_created += 1
        elif any(getattr(current, k) != v for k, v in values.items()):
            self.connection.execute(
                update(t.creditors).where(t.creditors.c.id == creditor.id).values(**values, updated_at=self.now)
            )
            self.summary.creditors_updated += 1

    def _place_account(self, rows: List[PlacementRow]) -> None:
        first = rows[0]
        account = self.connection.execute(
            select(t.accounts).where(t.accounts.c.ref_key == account_ref_key(first.account_ref))
        ).first()
        if account is not None and not self._same_account(account, first):
            return
        consumer_id = self._consumer_id(first)
        account_id = account.id if account is not None else self._create_account(first, consumer_id)
        for row in rows:
            self._place_item(account_id, row)

    def _same_account(self, account, row: PlacementRow) -> bool:
        consumer = self.connection.execute(select(t.consumers).where(t.consumers.c.id == account.consumer_id)).one()
        placed_key = (consumer.first_name.lower(), consumer.last_name.lower(), consumer.date_of_birth, consumer.phone)
        problems = []
        if account.account_ref != row.account_ref:
            problems.append(f"account_ref {row.account_ref!r} is too like the placed {account.account_ref!r}")
        if account.creditor_id != row.creditor_id:
            problems.append(f"account {row.account_ref} is already placed by creditor {account.creditor_id!r}")
        if account.currency != row.currency:
            problems.append(f"account {row.account_ref} is already placed in {account.currency}")
        if placed_key != row.consumer_key:
            problems.append(f"account {row.account_ref} is already placed for a different consumer")
        self.errors.extend(f"line {row.line}: {p}" for p in problems)
        return not problems

    def _consumer_id(self, row: PlacementRow) -> int:
        c = t.consumers
        existing = self.connection.execute(
            select(c).where(
                func.lower(c.c.first_name) == row.first_name.lower(),
                func.lower(c.c.last_name) == row.last_name.lower(),
                c.c.date_of_birth == row.date_of_birth,
                c.c.phone == row.phone,
            )
        ).first()
        details = dict(postal_code=row.postal_code, email=row.email, language=row.language, timezone=row.timezone)
        if existing is None:
            result = self.connection.execute(
                insert(c).values(first_name=row.first_name, last_name=row.last_name,
                                 date_of_birth=row.date_of_birth, phone=row.phone, created_at=self.now, **details)
            )
            self.summary.consumers_created += 1
            return int(result.inserted_primary_key[0])
        if any(getattr(existing, k) != v for k, v in details.items()):
            # The newest placement carries the creditor's current contact data for this person.
            self.connection.execute(update(c).where(c.c.id == existing.id).values(**details))
            self.summary.consumers_updated += 1
        return existing.id

    def _create_account(self, row: PlacementRow, consumer_id: int) -> int:
        result = self.connection.execute(
            insert(t.accounts).values(
                account_ref=row.account_ref,
                ref_key=account_ref_key(row.account_ref),
                creditor_id=row.creditor_id,
                consumer_id=consumer_id,
                currency=row.currency,
                status="open",
                placed_at=self.now,
                flags=json.dumps([]),
            )
        )
        self.summary.accounts_created += 1
        return int(result.inserted_primary_key[0])

    def _place_item(self, account_id: int, row: PlacementRow) -> None:
        li = t.line_items
        placed = self.connection.execute(
            select(li).where(li.c.account_id == account_id, li.c.reference == row.item_reference)
        ).first()
        if placed is not None:
            self._compare_item(placed, row)
            return
        self.connection.execute(
            insert(li).values(account_id=account_id, item_date=row.item_date, reference=row.item_reference,
                              description=row.item_description, amount_minor=row.item_amount.minor)
        )
        self.connection.execute(
            insert(t.ledger_entries).values(
                account_id=account_id,
                kind="charge",
                amount_minor=row.item_amount.minor,
                currency=row.currency,
                posted_at=self.now,
                reference=row.item_reference,
                description=row.item_description,
                idempotency_key=f"placement:{row.account_ref}:{row.item_reference}",
            )
        )
        self.summary.items_added += 1

    def _compare_item(self, placed, row: PlacementRow) -> None:
        differences = [
            name
            for name, before, after in (
                ("item_date", placed.item_date, row.item_date),
                ("item_description", placed.description, row.item_description),
                ("item_amount", placed.amount_minor, row.item_amount.minor),
            )
            if before != after
        ]
        if differences:
            self.errors.append(
                f"line {row.line}: item {row.item_reference!r} of account {row.account_ref} is already placed "
                f"with a different {', '.join(differences)}"
            )
        else:
            self.summary.items_unchanged += 1


def _group_by_account(rows: List[PlacementRow]) -> List[List[PlacementRow]]:
    groups: Dict[str, List[PlacementRow]] = {}
    for row in rows:
        groups.setdefault(row.account_ref, []).append(row)
    return list(groups.values())


def _creditor_values(creditor: Creditor) -> Dict[str, Any]:
    policy = creditor.policy
    return dict(
        id=creditor.id,
        name=creditor.name,
        role=creditor.role,
        channels=",".join(creditor.channels or ()),
        original_creditor=creditor.original_creditor,
        collector_name=creditor.collector_name,
        currency=policy.currency,
        plans_allowed=policy.plans_allowed,
        max_installments=policy.max_installments,
        min_installment_minor=policy.min_installment.minor if policy.min_installment else None,
        frequencies=",".join(policy.frequencies),
        settlement_floor_percent=policy.settlement_floor_percent,
        promise_max_days=policy.promise_max_days,
        extension_policy=policy.extension_policy,
        min_partial_payment_minor=policy.min_partial_payment,
        dispute_notice=policy.dispute_notice,
    )
