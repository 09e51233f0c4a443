"""Prometheus metrics of every Lotse process: the metric objects (once) and how to expose them.

Instrumentation happens only at the entry and infrastructure points: `deliver()` (consumed
events, verdicts, handler latency), the outbox relay (published events, lag until the broker
confirmed them, backlog), the partner call of the case opener, and every service's HTTP layer.
Domain code does not know about metrics.

Exposition: every Flask app answers `GET /metrics` (shared/web.py); the gateway answers
`/gateway/metrics`; relays and workers start a small HTTP server (`--metrics-port`).
Under gunicorn several workers serve one service: with `PROMETHEUS_MULTIPROC_DIR` set
(`lotse serve` sets up a fresh directory when none is given), each process writes its values
there and `render()` adds them up (prometheus_client's multiprocess mode). The variable must be
set before this module is first imported.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Mapping, Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import (REGISTRY, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest, start_http_server)

# The classic text format, which every Prometheus version reads (generate_latest writes it).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
               300.0, 600.0)
PARTNER_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)

EVENTS_PUBLISHED = Counter(
    "lotse_events_published", "Events the outbox relay published and the broker confirmed",
    ["service", "type"])
EVENTS_CONSUMED = Counter(
    "lotse_events_consumed", "Deliveries handled by a subscriber, by verdict (ack|retry|park)",
    ["subscriber", "type", "verdict"])
EVENTS_FAILED = Counter(
    "lotse_events_failed", "Deliveries that did not succeed (verdict retry or park)",
    ["subscriber"])
HANDLER_SECONDS = Histogram(
    "lotse_handler_duration_seconds", "Time to decode, handle and commit one delivery",
    ["subscriber"], buckets=LATENCY_BUCKETS)
OUTBOX_LAG_SECONDS = Histogram(
    "lotse_outbox_lag_seconds", "From the outbox row's creation to the broker's confirm",
    ["service"], buckets=LAG_BUCKETS)
OUTBOX_PENDING = Gauge(
    "lotse_outbox_pending", "Outbox rows not yet published (sampled by the relay)",
    ["service"], multiprocess_mode="livemax")
OUTBOX_OLDEST_SECONDS = Gauge(
    "lotse_outbox_oldest_pending_seconds",
    "Age of the oldest outbox row not yet published (sampled by the relay; 0 = none)",
    ["service"], multiprocess_mode="livemax")
PARTNER_CIRCUIT_OPEN = Gauge(
    "lotse_partner_circuit_open",
    "1 while this process's circuit breaker for the partner is open (or half-open: 0.5)",
    ["partner"], multiprocess_mode="livemax")
# Figures of the operator console's loop (worker-ops), so Prometheus alerts on them even when
# the console's own alerting or its database is what fails.
OPS_DEPENDENCY_UP = Gauge(
    "lotse_ops_dependency_up",
    "1 if the operator console reached the dependency at its last check, else 0",
    ["dependency", "service"], multiprocess_mode="livemax")
OPS_PARKED = Gauge(
    "lotse_ops_parked_messages", "Parked messages waiting for an operator (collected or not)",
    multiprocess_mode="livemax")
OPS_OVERDUE = Gauge(
    "lotse_ops_overdue_referrals", "Open referrals past their partner's deadline",
    multiprocess_mode="livemax")
OPS_LOOP_FAILURES = Counter(
    "lotse_ops_console_loop_failures", "Steps of the operator console's loop that failed",
    ["step"])
OPS_LOOP_SUCCESS = Gauge(
    "lotse_ops_console_loop_last_success_timestamp_seconds",
    "When the operator console's loop last checked the alerts without an error (Unix time)",
    multiprocess_mode="livemax")
PARTNER_CALL_SECONDS = Histogram(
    "lotse_partner_call_duration_seconds", "Calls to a partner system to open a case",
    ["partner", "outcome"], buckets=PARTNER_BUCKETS)
PARTNER_CALL_ERRORS = Counter(
    "lotse_partner_call_errors", "Partner calls that did not open the case (retry or refused)",
    ["partner"])
PARTNER_ANSWERS_REFUSED = Counter(
    "lotse_partner_answers_refused",
    "Partner answers the referral lifecycle refused: told to the partner (partner_adapter), or "
    "refused by the referral after the partner adapter took them (referral: the two disagree)",
    ["partner", "service"])
HTTP_REQUESTS = Counter(
    "lotse_http_requests", "HTTP requests answered by a service", ["service", "method", "status"])
HTTP_SECONDS = Histogram(
    "lotse_http_request_duration_seconds", "Time to answer an HTTP request", ["service"],
    buckets=LATENCY_BUCKETS)


def observe_delivery(subscriber: str, event_type: str, verdict: str, seconds: float) -> None:
    EVENTS_CONSUMED.labels(subscriber, event_type, verdict).inc()
    if verdict != "ack":
        EVENTS_FAILED.labels(subscriber).inc()
    HANDLER_SECONDS.labels(subscriber).observe(seconds)


def observe_published(service: str, event_type: str, created_at: datetime | None,
                      confirmed_at: datetime) -> None:
    EVENTS_PUBLISHED.labels(service, event_type).inc()
    if created_at is not None:
        if created_at.tzinfo is None:  # SQLite hands back naive UTC values
            created_at = created_at.replace(tzinfo=timezone.utc)
        lag = (confirmed_at - created_at).total_seconds()
        OUTBOX_LAG_SECONDS.labels(service).observe(max(0.0, lag))


def set_outbox_pending(service: str, pending: int, oldest_seconds: float = 0.0) -> None:
    OUTBOX_PENDING.labels(service).set(pending)
    OUTBOX_OLDEST_SECONDS.labels(service).set(max(0.0, oldest_seconds))


CIRCUIT_VALUES = {"closed": 0.0, "half-open": 0.5, "open": 1.0}


def set_circuit_states(states: Mapping[str, str | tuple[str, int, datetime | None]]) -> None:
    """partner -> (state, ...) as the case opener's breakers report them."""
    for partner, state in states.items():
        name = state[0] if isinstance(state, tuple) else state
        PARTNER_CIRCUIT_OPEN.labels(partner).set(CIRCUIT_VALUES.get(name, 0.0))


def set_console_readings(reachable: Mapping[tuple[str, str], bool], parked: int | None,
                         overdue: int | None) -> None:
    """The operator console's last check: reachable {("broker", ""): True, ("database",
    "referral"): False, ...}, parked messages and overdue referrals (None: not known)."""
    for (dependency, service), up in reachable.items():
        OPS_DEPENDENCY_UP.labels(dependency, service).set(1 if up else 0)
    if parked is not None:
        OPS_PARKED.set(parked)
    if overdue is not None:
        OPS_OVERDUE.set(overdue)


def console_loop_failed(step: str) -> None:
    OPS_LOOP_FAILURES.labels(step).inc()


def console_loop_succeeded(at: float) -> None:
    OPS_LOOP_SUCCESS.set(at)


def observe_partner_call(partner: str, outcome: str, seconds: float) -> None:
    PARTNER_CALL_SECONDS.labels(partner, outcome).observe(seconds)
    if outcome not in ("opened", "notice_sent"):
        PARTNER_CALL_ERRORS.labels(partner).inc()


def observe_http(service: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(service, method, str(status)).inc()
    HTTP_SECONDS.labels(service).observe(seconds)


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def registry() -> CollectorRegistry:
    """The registry to expose: this process's, or all processes' of the multiproc directory."""
    if not multiprocess():
        return REGISTRY
    from prometheus_client import multiprocess as mp

    collected = CollectorRegistry()
    mp.MultiProcessCollector(collected)  # type: ignore[no-untyped-call]  # untyped in the library
    return collected


def render() -> tuple[bytes, str]:
    """The Prometheus text exposition and its content type, for an HTTP route."""
    return generate_latest(registry()), CONTENT_TYPE


def start_metrics_server(port: int, host: str = "127.0.0.1") -> WSGIServer | None:
    """Serve /metrics on a port of its own (relays and workers have no HTTP app); 0 = off."""
    if not port:
        return None
    server, _thread = start_http_server(port, addr=host, registry=registry())
    return server


class _Worker(Protocol):
    pid: int  # a gunicorn worker, as far as this hook needs it


def worker_exited(_server: object, worker: _Worker) -> None:
    """gunicorn `child_exit` hook: a dead worker's live gauges no longer count."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        mp.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]  # untyped in the library
