"""Rasa's natural language generator: every response rendered from the catalogs in the conversation's language.

endpoints.yml::

    nlg:
      type: bot.adapters.nlg.CatalogNLG

Rasa calls :meth:`CatalogNLG.generate` inside its own process for each response it utters, from a
rule or story (``utter_*``) or from a custom action (``dispatcher.utter_message(response=..., **kwargs)``).
Rendering is :meth:`bot.translations.Catalogs.render`:

* language: the ``language`` argument if the caller passed one (an action that switches language
  utters its reply before Rasa applies its ``SlotSet``), else the tracker's ``language`` slot, else English;
* channel: Rasa's output channel name (``socketio``, ``collector`` for REST, and the custom ``sms`` /
  ``whatsapp``), matched against the domain's ``channel:`` variations;
* placeholders: the keyword arguments, then the tracker's slots (forms' ``utter_ask_*`` come with none).

An unknown response or a placeholder nobody filled is logged at ERROR (names only: the values may be
personal data) and the message is left out, as Rasa does when its own generator cannot render one.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, Optional, Text

from rasa.core.nlg.generator import NaturalLanguageGenerator
from rasa.shared.core.trackers import DialogueStateTracker

from bot.i18n import DEFAULT_LANGUAGE
from bot.translations import Catalogs, MissingArgumentError, UnknownResponseError

logger = logging.getLogger(__name__)


class CatalogNLG(NaturalLanguageGenerator):
    def __init__(self, endpoint_config: Any = None, domain: Any = None, *,
                 catalogs: Optional[Catalogs] = None) -> None:
        if catalogs is None:
            from bot import bootstrap

            catalogs = bootstrap.catalogs()
        self._catalogs = catalogs

    async def generate(self, utter_action: Text, tracker: DialogueStateTracker, output_channel: Text,
                       **kwargs: Any) -> Optional[Dict[Text, Any]]:
        kwargs.pop("domain_responses", None)  # Rasa's own responses: the catalogs hold ours
        response_id = kwargs.pop("response_id", None)
        slots = tracker.current_slot_values()
        language = kwargs.get("language") or slots.get("language") or DEFAULT_LANGUAGE
        if not isinstance(language, str):
            language = DEFAULT_LANGUAGE
        try:
            return self._catalogs.render(utter_action, language, output_channel or None, kwargs, slots=slots,
                                         response_id=response_id if isinstance(response_id, str) else None)
        except UnknownResponseError as error:
            logger.error("NLG: %s", error)
        except MissingArgumentError as error:
            logger.error("NLG: %s (language %s, channel %s)", error, language, output_channel)
        return None
