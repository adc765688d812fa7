"""messaging.yml: WhatsApp templates by response, each approved in English and possibly other languages."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.messaging_config import MessagingConfigError, load_messaging_config

ROOT = Path(__file__).resolve().parents[2]


def test_a_template_is_picked_in_the_consumers_language_with_english_as_the_fallback(tmp_path):
    path = tmp_path / "messaging.yml"
    path.write_text(
        "whatsapp:\n  templates:\n    utter_payment_reminder:\n      content_sid: HXen\n"
        "      variables: [first_name, link]\n      translations:\n        es: HXes\n        fr: ''\n")
    config = load_messaging_config(path)
    assert config.template_for("utter_payment_reminder", "es").content_sid == "HXes"
    assert config.template_for("utter_payment_reminder", "en").content_sid == "HXen"
    assert config.template_for("utter_payment_reminder", "fr").content_sid == "HXen"  # '' = not approved
    assert config.template_for("utter_payment_reminder", "es").variables == ("first_name", "link")
    assert config.template_for("utter_other", "es") is None


def test_translations_must_map_languages_to_sids(tmp_path):
    path = tmp_path / "messaging.yml"
    path.write_text("whatsapp:\n  templates:\n    utter_payment_reminder:\n      content_sid: HXen\n"
                    "      translations: [HXes]\n")
    with pytest.raises(MessagingConfigError, match="translations"):
        load_messaging_config(path)


def test_the_checked_in_file_loads():
    assert load_messaging_config(ROOT / "messaging.yml").whatsapp_templates == {}  # no SIDs until configured
