"""The HTTP load generator: a pool of clients posting intakes, as fast as they go or at a fixed
offered rate, for a number of requests or a number of seconds."""
from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field

import requests
from requests.adapters import HTTPAdapter


@dataclass
class LoadResult:
    started: float
    finished: float = 0.0
    # (seconds after start, request seconds, HTTP status)
    requests: list[tuple[float, float, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)  # ids of created intakes, if kept

    def summary(self) -> dict:
        ok = [r for r in self.requests if 200 <= r[2] < 300]
        took = sorted(r[1] for r in ok)
        elapsed = max(self.finished - self.started, 1e-9)
        return {"requests": len(self.requests), "ok": len(ok),
                "failed": len(self.requests) - len(ok),
                "seconds": round(elapsed, 2),
                "requests_per_second": round(len(ok) / elapsed, 1),
                "latency_ms": percentiles([t * 1000 for t in took]),
                "first_errors": self.errors[:5]}


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    values = sorted(values)
    cut = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else \
        [values[0]] * 99
    return {"p50": round(cut[49], 1), "p95": round(cut[94], 1), "p99": round(cut[98], 1),
            "max": round(values[-1], 1)}


def session(clients: int) -> requests.Session:
    s = requests.Session()
    s.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=clients))
    return s


def token_for(base: str, username: str = "staff", password: str = "demo") -> str:
    answer = requests.post(f"{base}/api/v1/auth/token",
                           json={"username": username, "password": password}, timeout=30)
    answer.raise_for_status()
    return answer.json()["access_token"]


def drive(url: str, people, *, token: str | None, clients: int, count: int | None = None,
          seconds: float | None = None, rate: float | None = None,
          keep_ids: bool = False, stop: threading.Event | None = None) -> LoadResult:
    """Post `people.intake()` bodies to `url` from `clients` threads until `count` requests
    were sent or `seconds` passed; with `rate`, requests are offered at that many per second
    (open loop: a slow answer does not slow the offer down, up to the pool of clients).
    `keep_ids` keeps the id of every intake the API accepted (201) in `accepted`. Setting
    `stop` ends the run: no request is sent after it, those under way are awaited."""
    assert count or seconds, "bound the run by a count or by seconds"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = session(clients)
    lock = threading.Lock()
    issued = [0]
    result = LoadResult(started=time.perf_counter())
    stop_at = result.started + seconds if seconds else None
    stop = stop or threading.Event()

    def next_slot() -> float | None:
        """When this client may send its next request, or None when the run is over."""
        with lock:
            n = issued[0]
            if stop.is_set() or (count is not None and n >= count):
                return None
            slot = result.started + n / rate if rate else time.perf_counter()
            if stop_at is not None and slot >= stop_at:
                return None
            issued[0] += 1
            return slot

    def client() -> None:
        while True:
            slot = next_slot()
            if slot is None:
                return
            if stop.wait(max(slot - time.perf_counter(), 0.0)):
                return
            with lock:
                body = people.intake()
            begun = time.perf_counter()
            try:
                answer = http.post(url, json=body, headers=headers, timeout=60)
                status = answer.status_code
                if keep_ids and status == 201:
                    with lock:
                        result.accepted.append(answer.json()["id"])
                if status >= 300 and len(result.errors) < 20:
                    result.errors.append(f"{status}: {answer.text[:200]}")
            except requests.RequestException as exc:
                status = 0
                result.errors.append(repr(exc)[:200])
            done = time.perf_counter()
            with lock:
                result.requests.append((round(begun - result.started, 4), done - begun, status))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.finished = time.perf_counter()
    return result
