"""The smaller run of the fault suite (`make chaos --quick`): 200 intakes through the
distributed stack on a private RabbitMQ node and PostgreSQL cluster while both restart, every
relay and worker is SIGKILLed, a partner is down, another slow, and the bus carries duplicates
and poison. Nothing may be lost or doubled; every poison message must be parked."""
from __future__ import annotations

import shutil

import pytest

from tests.conftest import in_ci

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


@pytest.mark.timeout(1800)  # the quick plan, its settling (up to 30 min at worst) included
def test_nothing_is_lost_or_doubled_whatever_breaks():
    missing = [b for b in ("rabbitmq-server", "rabbitmqctl") if shutil.which(b) is None]
    if missing:
        message = f"the fault suite starts its own RabbitMQ node and needs {missing}"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    from bench.chaos import quick_plan, run, table

    report = run(quick_plan(), verbose=False)

    summary = table(report)
    assert not report["lost"], summary
    assert not report["duplicated"], summary
    assert not report["poison_not_parked"], summary
    assert report["bus"]["duplicated"] > 0 and report["bus"]["poison"] > 0, summary
    assert not [f for f in report["faults"] if "error" in f], summary
    assert report["intakes"]["accepted"] >= 150, summary
    assert report["passed"], summary
