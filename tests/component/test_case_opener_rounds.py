"""The case opener's rounds overlap: several round loops on one pool of call threads, each
answer recorded as its call ends, and leases long enough for the longest call (SQLite, fake
partners, real threads)."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from services.partner_adapter import case_opener, handlers
from services.partner_adapter.case_opener import CaseOpener, lease_for
from shared.bus.delivery import deliver
from shared.partners import DIRECTORY
from tests.component.test_partner_cases import REQUEST, cases, referral_requested
from tests.conftest import wait_until
from tests.fakes import FakePartnerGateway


class FirstCallHangs(FakePartnerGateway):
    """The first case asked for hangs until `go` is set (at most 20 s); the others answer."""

    def __init__(self):
        super().__init__()
        self.go, self.hanging = threading.Event(), threading.Event()
        self._lock = threading.Lock()
        self.slow_key: str | None = None

    def open_case(self, request, idempotency_key):
        with self._lock:
            first = self.slow_key is None
            if first:
                self.slow_key = idempotency_key
        if first:
            self.hanging.set()
            self.go.wait(20)
        return super().open_case(request, idempotency_key)


def request_cases(deps, n: int) -> None:
    for _ in range(n):
        deliver(referral_requested(), REQUEST, deps.uow)


def opened(deps) -> list:
    return [c for c in cases(deps) if c.status == "opened"]


def test_a_slow_call_does_not_hold_back_recording_the_fast_answers(adapter_deps):
    request_cases(adapter_deps, 6)
    gateway = FirstCallHangs()
    ids = [str(c.id) for c in cases(adapter_deps)]
    with ThreadPoolExecutor(3) as calls, ThreadPoolExecutor(1) as loop:
        batch = loop.submit(handlers.open_partner_cases, ids, adapter_deps.uow,
                            {"jobcenter": gateway}, pool=calls)
        try:
            # the other five are recorded while the first call still waits for its answer
            wait_until(lambda: len(opened(adapter_deps)) == 5, timeout=10,
                       message="the fast answers recorded during the slow call")
            assert not gateway.go.is_set() and not batch.done()
        finally:
            gateway.go.set()
        assert set(batch.result(20).values()) == {"opened"}
    assert len(opened(adapter_deps)) == 6


def run_opener(opener: CaseOpener):
    stop = threading.Event()
    thread = threading.Thread(target=opener.run, args=(stop,), daemon=True)
    thread.start()
    return stop, thread


def test_while_a_round_waits_for_a_slow_call_another_loop_opens_the_next_cases(adapter_deps):
    """Rounds of four cases on two threads: one loop waits for its hanging call, the other
    keeps claiming, calling and recording the next rounds meanwhile."""
    request_cases(adapter_deps, 10)
    gateway = FirstCallHangs()
    opener = CaseOpener(adapter_deps, {"jobcenter": gateway}, threads=2, batch=4, loops=2)
    stop, thread = run_opener(opener)
    try:
        assert gateway.hanging.wait(10)
        wait_until(lambda: len(opened(adapter_deps)) == 9, timeout=15,
                   message="every other case opened while one call hangs")
        gateway.go.set()
        wait_until(lambda: len(opened(adapter_deps)) == 10, timeout=15,
                   message="the slow case opened")
    finally:
        gateway.go.set()
        stop.set()
        thread.join(20)
    assert not thread.is_alive()  # a clean stop: every loop ended with the stop event
    assert len(gateway.calls) == len(set(gateway.calls)) == 10  # one call per case


class Slowish(FakePartnerGateway):
    """Answers after 20 ms (long enough for the loops' rounds to overlap); counts calls
    across threads."""

    def __init__(self):
        super().__init__()
        self._lock = threading.Lock()

    def open_case(self, request, idempotency_key):
        threading.Event().wait(0.02)
        with self._lock:
            return super().open_case(request, idempotency_key)


def watch_rounds(monkeypatch) -> tuple[set, list]:
    """The threads that ran rounds, and the cases whose attempt started while another attempt
    at them was under way (empty unless leases fail)."""
    calling: set[str] = set()  # cases whose attempt is under way
    loops, twice = set(), []
    lock = threading.Lock()
    open_cases, attempt = handlers.open_partner_cases, handlers._attempt

    def noting_loops(case_ids, *args, **kwargs):
        with lock:
            loops.add(threading.get_ident())
        return open_cases(case_ids, *args, **kwargs)

    def noting_attempts(case, *args, **kwargs):
        with lock:
            if str(case.id) in calling:
                twice.append(str(case.id))
            calling.add(str(case.id))
        try:
            return attempt(case, *args, **kwargs)
        finally:
            with lock:
                calling.discard(str(case.id))

    monkeypatch.setattr(handlers, "open_partner_cases", noting_loops)
    monkeypatch.setattr(handlers, "_attempt", noting_attempts)
    return loops, twice


def test_two_loops_work_on_disjoint_cases_and_open_each_case_once(adapter_deps, monkeypatch):
    """A case may come round again (the rate limit defers some), but two attempts at it
    never run at once, and its partner is called once."""
    request_cases(adapter_deps, 24)
    loops, twice = watch_rounds(monkeypatch)
    gateway = Slowish()
    opener = CaseOpener(adapter_deps, {"jobcenter": gateway}, threads=2, batch=4, loops=2)
    stop, thread = run_opener(opener)
    try:
        wait_until(lambda: len(opened(adapter_deps)) == 24, timeout=120,
                   message="every case opened")
    finally:
        stop.set()
        thread.join(20)
    assert twice == [] and len(loops) == 2  # both loops had rounds, no case tried twice
    assert len(gateway.calls) == len(set(gateway.calls)) == 24  # one call per case


def test_other_work_and_the_circuit_report_are_due_for_one_loop_at_a_time(adapter_deps):
    opener = CaseOpener(adapter_deps, {"jobcenter": FakePartnerGateway()}, loops=8)
    start, told = threading.Barrier(8), []

    def ask():
        start.wait()
        told.append(opener._due("other work", case_opener.OTHER_WORK_SECONDS))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(told) == [False] * 7 + [True]
    assert not opener._due("other work", case_opener.OTHER_WORK_SECONDS)
    assert opener._due("circuit report", case_opener.CIRCUIT_REPORT_SECONDS)


def test_a_lease_fits_every_partners_longest_call_with_time_to_start_and_record():
    """60 s while every partner's longest call fits; longer when one does not (a FIT-Connect
    submission may make five requests), and then for every round."""
    fast = {code: None for code, p in DIRECTORY.items() if p.kind != "secure_submission"}
    assert lease_for(fast, 60.0) == 60.0
    everyone = {code: None for code in DIRECTORY}
    longest = max(handlers.longest_call(p).total_seconds() for p in DIRECTORY.values())
    assert longest > 60 - case_opener.START_SECONDS - handlers.RECORDING_SECONDS
    assert lease_for(everyone, 60.0) == \
        case_opener.START_SECONDS + longest + handlers.RECORDING_SECONDS
    slowest = {**DIRECTORY, "welfare": replace(DIRECTORY["welfare"], connect_timeout=30,
                                               read_timeout=120)}
    assert lease_for({"welfare": None}, 60.0, slowest) == \
        case_opener.START_SECONDS + 2 * 150 + handlers.RECORDING_SECONDS
