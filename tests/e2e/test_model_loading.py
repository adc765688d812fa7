"""The trained model, loaded the product's way (variables built eagerly), understands exactly as Rasa's loader."""
from __future__ import annotations

import asyncio

import pytest
from rasa.core.agent import Agent
from rasa.utils.tensorflow.models import RasaModel

from bot import rasa_server
from bot.evaluation import held_out_sets, load_examples
from bot.training import ensure_model
from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e


def understood(model, texts):
    agent = Agent.load(str(model))

    async def parse_all():
        return [await agent.parse_message(text) for text in texts]

    return [(parse["intent"]["name"], [(i["name"], round(i["confidence"], 5)) for i in parse["intent_ranking"][:5]],
             [(e["entity"], e["value"], e["start"], round(e.get("confidence_entity", 1.0), 5))
              for e in parse["entities"]])
            for parse in asyncio.run(parse_all())]


def test_the_model_loaded_eagerly_parses_every_held_out_text_as_rasas_loader_does(monkeypatch):
    model = ensure_model(ROOT)
    texts = [example.text for path in held_out_sets(ROOT).values() for example in load_examples(path)[::6]]
    rasas = understood(model, texts)
    monkeypatch.setattr(RasaModel, "load", classmethod(rasa_server.load_model_built_eagerly))
    ours = understood(model, texts)
    assert len(texts) > 100 and any(entities for _, _, entities in rasas)
    assert ours == rasas
