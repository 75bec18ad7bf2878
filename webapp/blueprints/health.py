"""Health endpoints for orchestrators and monitoring: ``/healthz`` (liveness), ``/readyz``
(readiness).

``/healthz`` answers "ok" as long as the process serves HTTP; it asks no other service, so an
outage of the database or the object store never makes an orchestrator restart web processes
that a restart cannot fix. ``/readyz`` probes each dependency (``webapp.services.readiness``) and
answers 200 when the ones a request needs are usable, else 503 with ``Retry-After``: a load
balancer stops sending traffic to the node, and the JSON says which dependency is down. Neither
answer is cached, carries a secret or needs a login; this module holds no rule of its own.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from webapp.errors import OUTAGE_RETRY_AFTER
from webapp.services import readiness

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    response = Response("ok\n", mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/readyz")
def readyz() -> Response:
    answer = readiness.check(current_app._get_current_object())
    response = jsonify(answer.to_json())
    response.headers["Cache-Control"] = "no-store"
    if not answer.ready:
        response.status_code = 503
        response.headers["Retry-After"] = str(OUTAGE_RETRY_AFTER)
    return response
