"""Each service's own figures for operators: outbox backlog and its queues' depths."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import func, select

from shared.auth import api_roles
from shared.bus.topology import Topology
from shared.config import Settings
from shared.outbox import outbox_stats
from shared.service import ServiceDeps, make_engine_cached


def queue_depths(settings: Settings, names: list[str]) -> dict[str, int | None]:
    """Messages waiting per queue (None when the broker cannot be asked)."""
    if settings.embedded:
        from shared.bus.embedded import _metadata, bus_messages

        engine = make_engine_cached(settings.bus_url)
        _metadata.create_all(engine)
        t = bus_messages
        with engine.connect() as conn:
            ready: dict[str, int] = dict(conn.execute(
                select(t.c.queue, func.count())
                .where(t.c.status == "ready", t.c.queue.in_(names))
                .group_by(t.c.queue)).all())
            parked: dict[str, int] = dict(conn.execute(
                select(t.c.queue, func.count())
                .where(t.c.status == "parked")
                .group_by(t.c.queue)).all())
        return {n: (parked.get(n[:-len(".parked")], 0) if n.endswith(".parked")
                    else ready.get(n, 0)) for n in names}
    from shared.bus.amqp import amqp_connection

    out: dict[str, int | None] = {}
    try:
        with amqp_connection(settings, heartbeat=0) as conn:
            conn.ensure_connection(max_retries=1)
            channel = conn.channel()
            for name in names:
                out[name] = channel.queue_declare(name, passive=True).message_count
    except Exception:
        out.update({n: None for n in names if n not in out})
    return out


def ops_blueprint(deps: ServiceDeps, topology: Topology) -> Blueprint:
    service = deps.settings.service
    bp = Blueprint(f"ops_{service}", __name__, url_prefix=f"/api/v1/ops/{service}")

    @bp.get("/flow")
    @api_roles("operator")
    def flow() -> Response:
        """Outbox backlog and per-subscription queue depths of this service."""
        subs = topology.for_service(service)
        names = [topology.queue(s) for s in subs] + [topology.parking_queue(s) for s in subs]
        depths = queue_depths(deps.settings, names)
        return jsonify(service=service, mode="embedded" if deps.settings.embedded else "rabbitmq",
                       outbox=outbox_stats(deps.engine, deps.outbox),
                       subscriptions=[{"queue": topology.queue(s), "events": list(s.event_types),
                                       "waiting": depths.get(topology.queue(s)),
                                       "parked": depths.get(topology.parking_queue(s))}
                                      for s in subs])

    return bp
