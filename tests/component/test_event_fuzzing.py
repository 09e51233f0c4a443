"""Event decoding under hostile input (hypothesis): whatever arrives, `deliver()` answers with
a verdict, and anything it cannot process is parked with a reason. Nothing raises, so no
consumer crashes, and nothing half-done is stored."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from services.referral.consumers import SUBSCRIPTIONS
from shared.bus.delivery import Verdict, deliver
from tests.component.test_delivery import intake_recorded

OPEN = SUBSCRIPTIONS[0]
SLOW_OK = hypothesis_settings(max_examples=300, deadline=None,
                              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                     HealthCheck.too_slow])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12)


def paths(value, prefix=()):
    """Every (path) into a JSON document, to mutate one place at a time."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths(v, prefix + (i,))


def mutate(document, path, action, replacement):
    if not path:
        return replacement
    node = document
    for step in path[:-1]:
        node = node[step]
    if action == "drop" and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = replacement
    return document


VALID = json.loads(intake_recorded())
ALL_PATHS = list(paths(VALID))


@SLOW_OK
@given(body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_arbitrary_bytes_are_parked(referral_deps, body):
    outcome = deliver(body, OPEN, referral_deps.uow)
    assert outcome.verdict is Verdict.PARK and outcome.reason


@SLOW_OK
@given(path=st.sampled_from(ALL_PATHS), action=st.sampled_from(["drop", "replace"]),
       replacement=json_values)
def test_a_valid_event_mutated_in_one_place_is_handled_or_parked_never_raises(
        referral_deps, path, action, replacement):
    body = json.dumps(mutate(json.loads(json.dumps(VALID)), path, action, replacement))
    outcome = deliver(body, OPEN, referral_deps.uow)
    assert outcome.verdict in (Verdict.ACK, Verdict.PARK), outcome
    if outcome.verdict is Verdict.PARK:
        assert outcome.reason


@SLOW_OK
@given(document=st.dictionaries(st.sampled_from(sorted(VALID)), json_values, max_size=12))
def test_envelopes_made_of_random_attributes_are_parked(referral_deps, document):
    outcome = deliver(json.dumps(document), OPEN, referral_deps.uow)
    assert outcome.verdict is Verdict.PARK
