"""The trained model, loaded and run the product's way, understands and predicts exactly as Rasa's own code.

The product's way: variables built eagerly on loading, the traced prediction graph called directly,
and the graph's nodes run one after the other rather than through dask (bot.rasa_fixes, bot.graph_runner).
"""
from __future__ import annotations

import asyncio

import pytest
import rasa.core.processor
from rasa.core.agent import Agent
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.tensorflow.models import RasaModel

from bot.evaluation import held_out_sets, load_examples
from bot.graph_runner import SequentialGraphRunner
from bot.rasa_fixes import tensorflow_models
from bot.training import ensure_model
from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e


def understood(model, texts):
    """Each text's intents, entities and the next action predicted after it, to 5 decimals."""
    agent = Agent.load(str(model))

    async def parse_all():
        return [await agent.parse_message(text) for text in texts]

    results = []
    for text, parse in zip(texts, asyncio.run(parse_all())):
        tracker = DialogueStateTracker.from_events(
            "held-out", [ActionExecuted("action_listen"), UserUttered(text, parse["intent"], parse["entities"], parse)],
            slots=agent.domain.slots)
        prediction = agent.processor._predict_next_with_tracker(tracker)
        results.append((
            parse["intent"]["name"], [(i["name"], round(i["confidence"], 5)) for i in parse["intent_ranking"][:5]],
            [(e["entity"], e["value"], e["start"], round(e.get("confidence_entity", 1.0), 5)) for e in parse["entities"]],
            prediction.policy_name, [round(p, 5) for p in prediction.probabilities]))
    return results


def test_the_model_run_the_products_way_parses_and_predicts_every_held_out_text_as_rasa_does(monkeypatch):
    model = ensure_model(ROOT)
    texts = [example.text for path in held_out_sets(ROOT).values() for example in load_examples(path)[::6]]
    rasas = understood(model, texts)
    monkeypatch.setattr(RasaModel, "load", classmethod(tensorflow_models.load_model_built_eagerly))
    monkeypatch.setattr(RasaModel, "_rasa_predict", tensorflow_models.predict_with_traced_graph)
    monkeypatch.setattr(rasa.core.processor, "DaskGraphRunner", SequentialGraphRunner)
    traced = {}
    monkeypatch.setattr(tensorflow_models, "_traced_predict_steps", traced)
    ours = understood(model, texts)
    assert len(texts) > 100 and any(entities for _, _, entities, _, _ in rasas)
    assert len({max(range(len(p)), key=p.__getitem__) for *_, p in rasas}) > 1  # not one answer to everything
    assert "DIET" in {type(model).__name__ for model in traced}  # the parses called the traced graph directly
    assert ours == rasas
