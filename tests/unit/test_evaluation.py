"""The held-out NLU sets stay apart from training data, and the evaluation's arithmetic is right."""
from pathlib import Path

from bot.evaluation import entity_scores, leaked_examples, scores

ROOT = Path(__file__).resolve().parents[2]


def test_no_held_out_example_is_training_data():
    assert leaked_examples(ROOT) == []


def test_precision_recall_and_f1_of_one_intent():
    pairs = [("a", "a"), ("a", "b"), ("b", "a"), ("b", "b"), ("a", "a")]
    s = scores(pairs, "a")
    assert (round(s.precision, 3), round(s.recall, 3), s.support) == (0.667, 0.667, 3)
    assert round(s.f1, 3) == 0.667


def test_entities_count_only_exact_spans_of_the_right_type():
    truth = [{("amount", 0, 3)}, {("date", 5, 10)}]
    found = [{("amount", 0, 3), ("date", 4, 6)}, {("date", 5, 9)}]
    result = entity_scores(truth, found)
    assert (result["amount"].precision, result["amount"].recall) == (1.0, 1.0)
    assert (result["date"].precision, result["date"].recall) == (0.0, 0.0)


def test_the_fallback_threshold_is_replayed_from_the_classifiers_own_ranking():
    from bot.evaluation import with_fallback

    parse = {"intent": {"name": "nlu_fallback"},
             "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.45}, {"name": "ask_balance", "confidence": 0.4},
                                {"name": "greet", "confidence": 0.2}]}
    assert with_fallback(parse, 0.45, 0.05) == "nlu_fallback"
    assert with_fallback(parse, 0.3, 0.05) == "ask_balance"
    assert with_fallback(parse, 0.3, 0.25) == "nlu_fallback"  # too close to the runner-up
