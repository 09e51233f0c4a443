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
PARTNER_CALL_SECONDS = Histogram(
    "lotse_partner_call_duration_seconds", "Calls to a partner system to open a case",
    ["partner", "outcome"], buckets=PARTNER_BUCKETS)
PARTNER_CALL_ERRORS = Counter(
    "lotse_partner_call_errors", "Partner calls that did not open the case (retry or refused)",
    ["partner"])
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


def set_outbox_pending(service: str, pending: int) -> None:
    OUTBOX_PENDING.labels(service).set(pending)


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
    mp.MultiProcessCollector(collected)
    return collected


def render() -> tuple[bytes, str]:
    """The Prometheus text exposition and its content type, for an HTTP route."""
    return generate_latest(registry()), CONTENT_TYPE


def start_metrics_server(port: int, host: str = "127.0.0.1"):
    """Serve /metrics on a port of its own (relays and workers have no HTTP app); 0 = off."""
    if not port:
        return None
    server, _thread = start_http_server(port, addr=host, registry=registry())
    return server


def worker_exited(_server, worker) -> None:
    """gunicorn `child_exit` hook: a dead worker's live gauges no longer count."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        mp.mark_process_dead(worker.pid)
