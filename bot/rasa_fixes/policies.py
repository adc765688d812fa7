"""The policies' predictions (MemoizationPolicy, RulePolicy), without work that decides nothing.

- MemoizationPolicy turns the tracker into states and looks them up on every prediction, three or
  four times a message, even when it memorised nothing: this assistant's conversations are rules,
  so its lookup is empty until designers add stories, and it was 7% of the CPU. Here a policy with
  an empty lookup predicts nothing at once, which is what the lookup would have answered.
- RulePolicy checks every rule against every state back to the conversation's start, though past a
  rule's length Rasa's own check is always true; here it looks back as far as its longest rule.
  Most rules already fail at the latest state, which of them depends on that state alone, and
  checking them all was 0.5 ms of each of the two searches a prediction makes: here the rules that
  match a latest state are remembered (`RuleIndex`), and only those are checked further back.
  It also formatted (and deep-copied) each prediction's states for a debug line at every log
  level; here the text is made only if the line is written.

The states every policy starts from are made once per event (bot/dialogue_states.py).
"""
from __future__ import annotations

import functools
import weakref
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.core.policies.memoization import MemoizationPolicy
from rasa.core.policies.policy import Policy
from rasa.core.policies.rule_policy import RulePolicy

_rasas_memoization_predict = MemoizationPolicy.predict_action_probabilities
_rasas_get_possible_keys = RulePolicy._get_possible_keys


@functools.wraps(_rasas_memoization_predict)  # Rasa checks a graph component's inputs by its signature
def predict_nothing_memorised(policy: MemoizationPolicy, tracker: Any, domain: Any,
                              rule_only_data: Optional[Dict[Text, Any]] = None, **kwargs: Any) -> Any:
    """MemoizationPolicy's prediction, without featurizing the tracker when nothing was memorised."""
    if not policy.lookup:
        return policy._prediction(policy._default_predictions(domain))
    return _rasas_memoization_predict(policy, tracker, domain, rule_only_data=rule_only_data, **kwargs)


def possible_rule_keys(policy: RulePolicy, lookup: Dict[Text, Text], states: List[Dict[str, Any]]) -> set:
    """RulePolicy's rules that match the conversation's latest states, looking back no further than they reach.

    Rasa checks every rule against every state back to the conversation's first, though a rule is
    only a few states long: past its length, Rasa's check is always true (`_is_rule_applicable`).
    Most rules fall at the latest state, and which do depends on that state alone, so the rules that
    match a latest state are remembered (`RuleIndex`); only those are checked further back.
    """
    if not states:
        return set(lookup)
    index = RuleIndex.of(policy, lookup)
    window = states[max(0, len(states) - index.reach):]
    possible_keys = index.matching_latest(policy, window[-1])
    for turn, state in enumerate(reversed(window[:-1]), start=1):
        possible_keys = [key for key in possible_keys if policy._is_rule_applicable(key, turn, state)]
    return set(possible_keys)


class RuleIndex:
    """The rules of one RulePolicy lookup: the longest one's length, and which match a state as a conversation's latest.

    Kept per policy in a weak map, so it holds no reference to its policy: a model loaded in place of
    another lets the old one's policies go.
    """

    MAX_REMEMBERED_STATES = 10_000
    _of_policies: "weakref.WeakKeyDictionary[RulePolicy, Dict[int, RuleIndex]]" = weakref.WeakKeyDictionary()

    def __init__(self, policy: RulePolicy, keys: frozenset) -> None:
        self.keys = keys
        self.reach = max((len(policy._rule_key_to_state(key)) for key in keys), default=0)
        self._matching: Dict[Any, Tuple[Text, ...]] = {}

    @classmethod
    def of(cls, policy: RulePolicy, lookup: Dict[Text, Text]) -> "RuleIndex":
        """The index of the lookup's rules as they are now (a lookup is compared by its rules, not its identity)."""
        indexes = cls._of_policies.setdefault(policy, {})
        index = indexes.get(id(lookup))
        if index is None or lookup.keys() != index.keys:
            index = indexes[id(lookup)] = cls(policy, frozenset(lookup))
        return index

    def matching_latest(self, policy: RulePolicy, state: Dict[str, Any]) -> Tuple[Text, ...]:
        try:
            frozen = tuple((name, tuple(sub_state.items())) for name, sub_state in state.items())
            return self._matching[frozen]
        except TypeError:  # a value that cannot be a key: checked every time
            return self._match(policy, state)
        except KeyError:
            if len(self._matching) >= self.MAX_REMEMBERED_STATES:
                self._matching.clear()
            matching = self._matching[frozen] = self._match(policy, state)
            return matching

    def _match(self, policy: RulePolicy, state: Dict[str, Any]) -> Tuple[Text, ...]:
        return tuple(key for key in self.keys if policy._is_rule_applicable(key, 0, state))


class StatesForDebugLog:
    """RulePolicy's text of a prediction's states for its debug log line, made only if the line is written.

    Rasa formats (and deep-copies) it for every prediction, at every log level.
    """

    def __init__(self, states: List[Dict[str, Any]]) -> None:
        self._states = states

    def __str__(self) -> str:
        return Policy.format_tracker_states(self._states)

    __repr__ = __str__

    def __deepcopy__(self, _memo: Dict[int, Any]) -> "StatesForDebugLog":
        return self  # it is only read, and only when written to the log


def install() -> None:
    MemoizationPolicy.predict_action_probabilities = predict_nothing_memorised
    RulePolicy.format_tracker_states = staticmethod(StatesForDebugLog)
    RulePolicy._get_possible_keys = possible_rule_keys
