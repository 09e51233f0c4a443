"""End-to-end fixtures: the embedded network served over real HTTP on a free port."""
from __future__ import annotations

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
