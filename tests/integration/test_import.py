"""Placement import on SQLite and PostgreSQL: validation, line numbers, idempotency, atomicity."""
from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.domain.accounts import Creditor
from bot.domain.money import Money
from bot.ledger import schema as t
from bot.ledger.importer import (
    COLUMNS,
    CreditorsError,
    PlacementError,
    import_placements,
    load_creditors,
    parse_creditors,
)

MAYA = dict(
    creditor_id="brightwork", account_ref="BW-10001", first_name="Maya", last_name="Thompson",
    date_of_birth="1985-03-04", postal_code="94110", phone="+14155550101",
    email="maya.thompson@example.com", language="en", timezone="America/Los_Angeles", currency="USD",
    item_date="2026-03-12", item_reference="BW-INV-88213",
    item_description="Invoice BW-INV-88213 – logo design milestone 2", item_amount="450.00",
)
TABLES = (t.creditors, t.consumers, t.accounts, t.line_items, t.ledger_entries)


def row(**changes) -> dict:
    return {**MAYA, **changes}


def write_csv(path: Path, rows, header=COLUMNS) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow([r[c] for c in header] if isinstance(r, dict) else r)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def counts(engine) -> dict:
    with engine.connect() as connection:
        return {table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for table in TABLES}


def test_demo_round_trip(engine, demo_ledger, demo_placements, demo_creditors):
    assert counts(engine) == {"creditors": 4, "consumers": 8, "accounts": 9, "line_items": 26,
                              "ledger_entries": 26}
    maya = demo_ledger.consumer(1)
    assert (maya.first_name, maya.last_name, maya.phone, maya.language, maya.timezone) == (
        "Maya", "Thompson", "+14155550101", "en", "America/Los_Angeles")
    lucia = demo_ledger.consumer(2)
    assert (lucia.first_name, lucia.last_name, lucia.phone, lucia.language, lucia.timezone) == (
        "Lucía", "Hernández", "+13055550102", "es", "America/New_York")
    statement = demo_ledger.statement("BW-10001")
    assert [i.reference for i in statement.line_items] == ["BW-INV-88213", "BW-INV-88240"]
    assert statement.line_items[0].description == "Invoice BW-INV-88213 – logo design milestone 2"
    assert statement.line_items[0].amount == Money(45000, "USD")


def test_import_summary_counts(engine, demo_placements, demo_creditors):
    summary = import_placements(engine, demo_placements, demo_creditors)
    assert summary.as_dict() == {
        "creditors_created": 4, "creditors_updated": 0, "consumers_created": 8, "consumers_updated": 0,
        "accounts_created": 9, "items_added": 26, "items_unchanged": 0,
    }
    assert "accounts created: 9" in str(summary)


def test_reimport_changes_nothing(engine, demo_placements, demo_creditors):
    import_placements(engine, demo_placements, demo_creditors)
    before = counts(engine)
    with engine.connect() as connection:
        entries_before = connection.execute(select(t.ledger_entries).order_by(t.ledger_entries.c.id)).all()
    summary = import_placements(engine, demo_placements, demo_creditors)
    assert counts(engine) == before
    with engine.connect() as connection:
        assert connection.execute(select(t.ledger_entries).order_by(t.ledger_entries.c.id)).all() == entries_before
    assert summary.as_dict() == {
        "creditors_created": 0, "creditors_updated": 0, "consumers_created": 0, "consumers_updated": 0,
        "accounts_created": 0, "items_added": 0, "items_unchanged": 26,
    }


def test_one_consumer_with_two_accounts(demo_ledger):
    james = demo_ledger.consumer_by_account_ref("NW-20002")
    assert demo_ledger.consumer_by_account_ref("CHP-30001") == james
    assert {s.account_ref for s in demo_ledger.accounts_of(james.id)} == {"NW-20002", "CHP-30001"}


def test_charges_carry_placement_idempotency_keys(engine, demo_ledger):
    with engine.connect() as connection:
        keys = connection.execute(
            select(t.ledger_entries.c.idempotency_key, t.ledger_entries.c.kind)
            .where(t.ledger_entries.c.reference == "BW-INV-88213")
        ).all()
    assert keys == [("placement:BW-10001:BW-INV-88213", "charge")]


def test_several_bad_rows_are_all_reported_and_nothing_is_written(engine, tmp_path, demo_creditors):
    path = write_csv(tmp_path / "bad.csv", [
        row(),                                                              # line 2: fine
        row(item_reference="A2", date_of_birth="04/03/1985"),               # line 3
        row(item_reference="A3", phone="415-555-0101"),                     # line 4
        row(account_ref="BW-10009", email="maya(at)example.com", language="fr"),  # line 5
        row(account_ref="BW-10010", timezone="Mars/Olympus", currency="usd"),     # line 6
        row(item_reference="A6", item_amount="12.345"),                     # line 7
        row(item_reference="A7", creditor_id="acme"),                       # line 8
        row(item_reference="A8", first_name=""),                            # line 9
        row(item_reference="A9", item_date="2026-02-30"),                   # line 10
        row(item_reference="A10", item_amount="ten"),                       # line 11
        row(),                                                              # line 12: duplicate of line 2
    ])
    with pytest.raises(PlacementError) as error:
        import_placements(engine, path, demo_creditors)
    errors = error.value.errors
    text = "\n".join(errors)
    for fragment in (
        "line 3: date_of_birth: '04/03/1985' is not a date in YYYY-MM-DD form",
        "line 4: phone: '415-555-0101' is not an E.164 phone number",
        "line 5: email: 'maya(at)example.com' is not an email address",
        "line 5: language: 'fr' must be one of en, es",
        "line 6: timezone: 'Mars/Olympus' is not an IANA time zone",
        "line 6: currency: 'usd' is not an ISO 4217 currency code",
        "line 7: item_amount: '12.345' has more decimals than USD allows",
        "line 8: creditor_id: 'acme' is not in the creditors file",
        "line 9: first_name: required",
        "line 10: item_date: '2026-02-30' is not a real calendar date",
        "line 11: item_amount: 'ten' is not a number",
        "line 12: item_reference 'BW-INV-88213' repeats line 2 in account BW-10001",
    ):
        assert fragment in text, fragment
    assert [int(e.split(":")[0].split()[1]) for e in errors] == sorted(
        int(e.split(":")[0].split()[1]) for e in errors)
    assert not any(e.startswith("line 2:") for e in errors)
    assert counts(engine) == dict.fromkeys(counts(engine), 0)


def test_line_numbers_are_physical_lines(engine, tmp_path, demo_creditors):
    """A quoted description spanning two lines and a blank line shift the numbers as an editor shows them."""
    lines = [",".join(COLUMNS)]
    first = row(item_description='"two\nlines"')
    lines.append(",".join(first[c] for c in COLUMNS))           # lines 2-3
    lines.append("")                                              # line 4: blank, skipped
    lines.append(",".join(row(item_reference="X", phone="nope")[c] for c in COLUMNS))  # line 5
    path = tmp_path / "multiline.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(PlacementError) as error:
        import_placements(engine, path, demo_creditors)
    assert error.value.errors == ["line 5: phone: 'nope' is not an E.164 phone number like +14155550101"]


def test_rows_of_one_account_must_agree(engine, tmp_path, demo_creditors):
    path = write_csv(tmp_path / "disagree.csv", [
        row(),
        row(item_reference="B", phone="+14155550199"),      # line 3: another person
        row(item_reference="C", creditor_id="northwind"),   # line 4: another creditor
    ])
    with pytest.raises(PlacementError) as error:
        import_placements(engine, path, demo_creditors)
    text = "\n".join(error.value.errors)
    assert "line 3: phone +14155550199 differs from line 2 (+14155550101) for account BW-10001" in text
    assert "line 4: creditor_id northwind differs from line 2 (brightwork) for account BW-10001" in text


def test_a_reference_differing_only_in_punctuation_is_rejected(engine, tmp_path, demo_creditors):
    path = write_csv(tmp_path / "refs.csv", [row(), row(account_ref="bw10001", item_reference="B")])
    with pytest.raises(PlacementError) as error:
        import_placements(engine, path, demo_creditors)
    assert error.value.errors[0].startswith("line 3: account_ref 'bw10001' is too like 'BW-10001' (line 2)")


def test_currency_must_match_the_creditor(engine, tmp_path, demo_creditors):
    path = write_csv(tmp_path / "eur.csv", [row(currency="EUR")])
    with pytest.raises(PlacementError) as error:
        import_placements(engine, path, demo_creditors)
    assert error.value.errors == ["line 2: currency: EUR differs from creditor 'brightwork''s currency USD"]


@pytest.mark.parametrize(
    "header, message",
    [
        # a missing column
        ([c for c in COLUMNS if c != "email"], "line 1: missing columns: email"),
        # an unexpected column
        (list(COLUMNS) + ["notes"], "line 1: unknown columns: notes"),
    ],
)
def test_header_is_checked(engine, tmp_path, demo_creditors, header, message):
    path = write_csv(tmp_path / "header.csv", [], header=header)
    with pytest.raises(PlacementError) as error:
        import_placements(engine, path, demo_creditors)
    assert error.value.errors[0].startswith(message)


def test_columns_may_come_in_any_order(engine, tmp_path, demo_creditors):
    path = write_csv(tmp_path / "reordered.csv", [row()], header=tuple(reversed(COLUMNS)))
    assert import_placements(engine, path, demo_creditors).items_added == 1


def test_wrong_field_count_and_empty_file(engine, tmp_path, demo_creditors):
    path = tmp_path / "short.csv"
    path.write_text(",".join(COLUMNS) + "\nbrightwork,BW-1\n", encoding="utf-8")
    with pytest.raises(PlacementError, match="line 2: expected 15 fields, found 2"):
        import_placements(engine, path, demo_creditors)
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(PlacementError, match="line 1: the file is empty"):
        import_placements(engine, empty, demo_creditors)


def test_header_only_imports_nothing(engine, tmp_path, demo_creditors):
    path = write_csv(tmp_path / "header_only.csv", [])
    summary = import_placements(engine, path, demo_creditors)
    assert (summary.accounts_created, summary.items_added) == (0, 0)


def test_conflicting_reimport_is_rejected_whole(engine, tmp_path, demo_creditors):
    import_placements(engine, write_csv(tmp_path / "first.csv", [row()]), demo_creditors)
    before = counts(engine)
    path = write_csv(tmp_path / "second.csv", [
        row(item_reference="NEW-1", item_amount="10.00"),   # line 2: new, but the file fails
        row(item_amount="451.00"),                          # line 3: same item, other amount
    ])
    with pytest.raises(PlacementError) as error:
        import_placements(engine, path, demo_creditors)
    assert error.value.errors == [
        "line 3: item 'BW-INV-88213' of account BW-10001 is already placed with a different item_amount"
    ]
    assert counts(engine) == before


def test_account_already_placed_for_someone_else(engine, tmp_path, demo_creditors):
    import_placements(engine, write_csv(tmp_path / "first.csv", [row()]), demo_creditors)
    path = write_csv(tmp_path / "second.csv", [
        row(item_reference="Z", first_name="Mia", creditor_id="northwind"),
    ])
    with pytest.raises(PlacementError) as error:
        import_placements(engine, path, demo_creditors)
    assert error.value.errors == [
        "line 2: account BW-10001 is already placed by creditor 'brightwork'",
        "line 2: account BW-10001 is already placed for a different consumer",
    ]


def test_new_items_are_added_to_a_placed_account(engine, ledger, tmp_path, demo_creditors):
    import_placements(engine, write_csv(tmp_path / "first.csv", [row()]), demo_creditors)
    path = write_csv(tmp_path / "more.csv", [row(), row(item_reference="BW-INV-88240", item_amount="325.00")])
    summary = import_placements(engine, path, demo_creditors)
    assert (summary.accounts_created, summary.items_added, summary.items_unchanged) == (0, 1, 1)
    assert ledger.statement("BW-10001").balance == Money(77500, "USD")


def test_consumer_matched_case_insensitively_and_details_updated(engine, ledger, tmp_path, demo_creditors):
    import_placements(engine, write_csv(tmp_path / "first.csv", [row()]), demo_creditors)
    path = write_csv(tmp_path / "second.csv", [
        row(account_ref="BW-10077", first_name="MAYA", last_name="thompson", email="maya@example.org"),
    ])
    summary = import_placements(engine, path, demo_creditors)
    assert (summary.consumers_created, summary.consumers_updated, summary.accounts_created) == (0, 1, 1)
    consumer = ledger.consumer_by_account_ref("BW-10077")
    assert consumer == ledger.consumer_by_account_ref("BW-10001")
    assert consumer.email == "maya@example.org"


def test_email_is_optional(engine, ledger, tmp_path, demo_creditors):
    import_placements(engine, write_csv(tmp_path / "noemail.csv", [row(email="")]), demo_creditors)
    assert ledger.consumer_by_account_ref("BW-10001").email is None


def test_creditor_policy_change_updates_the_creditor(engine, ledger, tmp_path, demo_creditors):
    placements = write_csv(tmp_path / "p.csv", [row()])
    import_placements(engine, placements, demo_creditors)
    changed = tmp_path / "creditors.yml"
    changed.write_text(demo_creditors.read_text().replace("max_installments: 6", "max_installments: 3"))
    summary = import_placements(engine, placements, changed)
    assert (summary.creditors_created, summary.creditors_updated) == (0, 1)
    assert ledger.statement("BW-10001").creditor.policy.max_installments == 3


# --- creditors file --------------------------------------------------------------------------------


def test_demo_creditors(demo_creditors):
    creditors = load_creditors(demo_creditors)
    assert set(creditors) == {"brightwork", "northwind", "cascade", "summit"}
    bright = creditors["brightwork"]
    assert bright.name == "Brightwork Marketplace" and bright.role == "first_party"
    assert bright.channels == ("sms", "whatsapp", "webchat")  # first-party default
    assert bright.policy.plans_allowed and bright.policy.max_installments == 6
    assert bright.policy.min_installment == Money(2500, "USD")
    assert bright.policy.frequencies == ("monthly", "biweekly")
    assert bright.policy.settlement_floor_percent == 80
    assert bright.policy.extension_policy == "proof_required"
    assert bright.policy.min_partial_payment == 500
    assert creditors["northwind"].policy.settlement_floor_percent is None
    assert not creditors["northwind"].policy.settlements_allowed
    assert creditors["cascade"].policy.plans_allowed is False
    summit = creditors["summit"]
    assert summit.is_agency and summit.channels == ("webchat",)
    assert summit.original_creditor == "Lakeview Telecom"
    assert summit.collector_name == "Summit Recovery Services"


def test_bare_list_and_defaults_by_role():
    creditors = parse_creditors([
        {"id": "agency-a", "name": "Agency A", "role": "agency", "original_creditor": "Shop"},
        {"id": "shop", "name": "Shop", "role": "first_party"},
    ])
    agency, shop = creditors["agency-a"], creditors["shop"]
    assert agency.channels == ("webchat",) and agency.collector_name == "Agency A"
    assert shop.channels == ("sms", "whatsapp", "webchat") and shop.collector_name is None
    assert shop.policy.promise_max_days == 14 and shop.policy.extension_policy == "agent"
    assert not shop.policy.plans_allowed and shop.policy.settlement_floor_percent is None
    assert agency.allows_channel("webchat") and agency.allows_channel("rest")
    assert not agency.allows_channel("sms")


def test_amounts_in_yaml_never_pass_through_float(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("- {id: a, name: A, role: first_party, plans_allowed: true, max_installments: 3,\n"
                    "   min_installment: 19.99, min_partial_payment: 0.30}\n")
    policy = load_creditors(path)["a"].policy
    assert policy.min_installment == Money(1999, "USD") and policy.min_partial_payment == 30


def test_creditor_errors_name_the_creditor_and_field():
    with pytest.raises(CreditorsError) as error:
        parse_creditors({"creditors": [
            {"id": "good", "name": "Good", "role": "first_party"},
            {"id": "bad", "name": "Bad", "role": "collector", "channels": ["sms", "fax"],
             "plans_allowed": "yes", "settlement_floor_percent": 120, "extension_policy": "maybe",
             "min_installment": "abc", "promise_max_days": 0, "colour": "red"},
            {"name": "No Id", "role": "agency"},
            {"id": "plans", "name": "Plans", "role": "first_party", "plans_allowed": True,
             "frequencies": ["daily"]},
            {"id": "good", "name": "Again", "role": "agency"},
        ]})
    text = "\n".join(error.value.errors)
    for fragment in (
        "creditor 'bad': field 'colour': unknown field",
        "creditor 'bad': field 'role': must be one of first_party, agency; got 'collector'",
        "creditor 'bad': field 'channels': must list each of sms, whatsapp, webchat",
        "creditor 'bad': field 'plans_allowed': must be true or false; got 'yes'",
        "creditor 'bad': field 'settlement_floor_percent': must be a whole number from 1 to 100; got 120",
        "creditor 'bad': field 'extension_policy': must be one of none, proof_required, agent",
        "creditor 'bad': field 'min_installment': 'abc' is not a number",
        "creditor 'bad': field 'promise_max_days': must be a whole number from 1 to 365; got 0",
        "creditor #3: field 'id': required",
        "creditor 'plans': field 'max_installments': required when plans_allowed is true",
        "creditor 'plans': field 'frequencies': must be a list of weekly, biweekly, monthly",
        "creditor 'good': field 'id': listed more than once",
    ):
        assert fragment in text, fragment


@pytest.mark.parametrize("data", [None, [], {"creditors": None}, "text"])
def test_creditors_file_must_hold_a_list(data):
    with pytest.raises(CreditorsError, match="expected a non-empty list of creditors"):
        parse_creditors(data)


def test_bad_creditors_file_writes_nothing(engine, tmp_path, demo_placements):
    path = tmp_path / "c.yml"
    path.write_text("creditors: [ {id: x\n")
    with pytest.raises(CreditorsError, match="not valid YAML"):
        import_placements(engine, demo_placements, path)
    assert counts(engine)["creditors"] == 0


def test_domain_creditor_validates():
    with pytest.raises(ValueError):
        Creditor(id="x", name="X", role="bank")
    with pytest.raises(ValueError):
        Creditor(id="x", name="X", role="agency", channels=("fax",))
    assert Decimal("25.00") == Money(2500, "USD").to_decimal()
