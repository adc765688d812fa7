from datetime import date

from bot.domain.money import Money
from bot.services.offers import Offer


def test_an_offer_survives_the_tracker_slot_exactly():
    offer = Offer("plan", "BW-10001", amount=Money(77500, "USD"), frequency="monthly",
                  installments=((date(2026, 12, 1), Money(25834, "USD")), (date(2027, 1, 1), Money(25833, "USD"))))
    assert Offer.from_json(offer.to_json()) == offer


def test_missing_or_unknown_offers_read_as_none():
    assert Offer.from_json(None) is None
    assert Offer.from_json('{"kind": "lottery", "account_ref": "X"}') is None
