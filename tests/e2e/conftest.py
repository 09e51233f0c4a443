"""End-to-end fixtures: the embedded network served over real HTTP on a free port."""
from __future__ import annotations

import copy
import threading

import pytest
from waitress import create_server

from services.cli import migrate_all, seed_demo
from services.embedded import build_network
from shared.runtime import Loops
from tests.conftest import embedded_settings, free_port


@pytest.fixture
def network(tmp_path):
    port = free_port()
    settings = embedded_settings(tmp_path, {"PORT": str(port),
                                            "LOTSE_SANDBOX_AUTO_ACCEPT": "0.5"})
    migrate_all(settings)
    seed_demo(settings)
    net = build_network(settings)
    loops = Loops()
    net.start_loops(loops)
    server = create_server(net.wsgi, host="127.0.0.1", port=port, threads=8)

    def serve():
        try:
            server.run()
        except OSError:
            pass  # the socket map was closed by the teardown below

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    # A request thread that outlives the server (a live stream holds one for up to a minute)
    # wakes the loop by os.write() to the trigger pipe's raw descriptor number, even after
    # close(); once a later test reuses that number for a SQLite file, the byte lands in its
    # header ("file is not a database"). Disarm the trigger before closing.
    server.trigger._physical_pull = lambda: None
    server.close()
    loops.shutdown()
    # every test builds a network: give its database handles back (waitress's select()
    # cannot watch descriptors above 1024)
    for deps in net.deps.values():
        deps.engine.dispose()
    net.broker.engine.dispose()
    net.sandbox_engine.dispose()


@pytest.fixture
def network_with_cases(network):
    """The network with a consultation's three needs (one waiting for a fact) and a
    family's: a need of the mother, and a child's school place, routed and delivered."""
    from tests.conftest import OLENA, SMOKE_INTAKE
    from tests.e2e.client import LotseClient

    client = LotseClient(network)
    client.post_intake(copy.deepcopy(SMOKE_INTAKE))
    family = copy.deepcopy(OLENA)
    family["person"]["household"] = [
        {"given_name": "Andrii", "family_name": "Kovalenko", "relation": "spouse",
         "birth_date": "1985-01-02"},
        {"given_name": "Ivan", "family_name": "Kovalenko", "relation": "child",
         "birth_date": "2015-09-09"}]
    family["needs"] = ["orientation_counselling", {"code": "school_place", "for_member": 1}]
    client.wait_referred(client.post_intake(family)["id"], 2, timeout=15)
    return network
