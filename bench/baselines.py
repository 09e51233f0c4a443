"""What the machine can do without Lotse, measured in the same run as Lotse itself.

- the raw kombu baseline: pipelined confirmed publishes into a durable quorum queue and a
  consumer acking them, at the same time, on the same broker;
- a bare Flask endpoint doing one INSERT, served by gunicorn with the intake service's settings
  (gthread, 8 threads, the same worker count), driven by the same HTTP load generator.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from kombu import Connection, Exchange, Producer, Queue

from bench.halt import signals_deferred
from bench.load import drive
from bench.ports import free_port
from bench.stack import BROKER_URL, REPO

BODY = json.dumps({"specversion": "1.0", "type": "bench.message", "source": "bench",
                   "data": {"payload": "x" * 800}}).encode()


def kombu_baseline(count: int = 20_000, window: int = 256, prefetch: int = 200) -> dict:
    """Messages per second through the broker: confirmed (pipelined) publish + consume/ack."""
    name = f"bench-baseline-{uuid.uuid4().hex[:6]}"
    queue = Queue(name, Exchange(""), routing_key=name, durable=True,
                  queue_arguments={"x-queue-type": "quorum"})
    consumed = threading.Event()
    received = [0]
    times: dict[str, float] = {}

    def consume() -> None:
        with Connection(BROKER_URL, heartbeat=0) as conn:
            channel = conn.channel()
            channel.basic_qos(0, prefetch, False)

            def on_message(body, message):
                message.ack()
                received[0] += 1
                if received[0] >= count:
                    times["consumed"] = time.perf_counter()
                    consumed.set()

            with conn.Consumer(queue, callbacks=[on_message], accept=None):
                deadline = time.monotonic() + 300
                while not consumed.is_set() and time.monotonic() < deadline:
                    try:
                        conn.drain_events(timeout=1)
                    except TimeoutError:
                        continue

    reader = threading.Thread(target=consume, daemon=True)
    try:
        with Connection(BROKER_URL) as conn:
            channel = conn.channel()
            queue(channel).declare()
            reader.start()
            time.sleep(0.5)  # the consumer is attached before the clock starts
            channel.confirm_select()
            unsettled: set[int] = set()

            def settle(tag, multiple=False):
                if multiple:
                    unsettled.difference_update({s for s in unsettled if s <= tag})
                else:
                    unsettled.discard(tag)

            channel.events["basic_ack"].add(settle)
            channel.events["basic_nack"].add(settle)
            producer = Producer(channel, auto_declare=False)
            start = time.perf_counter()
            seq = 0
            while seq < count:
                for _ in range(min(window, count - seq)):
                    producer.publish(BODY, routing_key=name, delivery_mode=2, retry=False,
                                     content_type="application/json")
                    seq += 1
                    unsettled.add(seq)
                while unsettled:
                    conn.drain_events(timeout=30)
            published = time.perf_counter()
            consumed.wait(300)
    finally:
        # also when interrupted: the durable queue would stay on the machine's broker
        consumed.set()  # ends the consumer's loop
        if reader.is_alive():
            reader.join(5)
        with signals_deferred(), Connection(BROKER_URL) as conn:
            conn.channel().queue_delete(name)
    end = times.get("consumed", time.perf_counter())
    return {"messages": count, "window": window, "prefetch": prefetch,
            "confirmed_publish_per_second": round(count / (published - start)),
            "end_to_end_per_second": round(received[0] / (end - start)),
            "consumed": received[0]}


BARE_APP = '''
import os
from datetime import datetime, timezone
from uuid import uuid4
from flask import Flask, request, jsonify
from sqlalchemy import text
from shared.db import make_engine  # the services' connection handling (pings when idle)

app = Flask(__name__)
engine = make_engine(os.environ["BARE_DATABASE_URL"], pool_size=8)

@app.post("/rows")
def insert_row():
    body = request.get_json()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO bare_rows (id, body, created_at) VALUES (:i, :b, :t)"),
                     {"i": str(uuid4()), "b": request.get_data(as_text=True),
                      "t": datetime.now(timezone.utc)})
    return jsonify(id="ok", needs=len(body.get("needs", []))), 201
'''


def bare_flask_baseline(db_url: str, workdir: Path, workers: int, seconds: float,
                        clients: int, people, stop: threading.Event | None = None) -> dict:
    """Requests per second of one INSERT behind Flask and gunicorn (the intake's settings);
    `stop` ends the load early."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS bare_rows (id varchar(36) PRIMARY KEY, "
                          "body text NOT NULL, created_at timestamptz NOT NULL)"))
    engine.dispose()
    (workdir / "bare_app.py").write_text(BARE_APP)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--chdir", str(workdir), "--bind",
         f"127.0.0.1:{port}", "--workers", str(workers), "--threads", "8",
         "--worker-class", "gthread", "bare_app:app"],
        cwd=REPO, env={**os.environ, "BARE_DATABASE_URL": db_url,
                       "PYTHONPATH": os.pathsep.join(filter(None, (
                           str(REPO), os.environ.get("PYTHONPATH"))))},
        stdout=open(workdir / "bare_app.log", "ab"), stderr=subprocess.STDOUT)
    try:
        import requests

        deadline = time.monotonic() + 30
        while True:
            try:
                requests.post(f"http://127.0.0.1:{port}/rows", json={}, timeout=2)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the bare Flask app did not start") from None
                time.sleep(0.2)
        result = drive(f"http://127.0.0.1:{port}/rows", people, token=None, clients=clients,
                       seconds=seconds, stop=stop)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return result.summary()
