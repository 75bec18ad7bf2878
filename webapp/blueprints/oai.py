"""OAI-PMH 2.0 at ``/oai`` (GET and POST): the request's arguments in, the protocol's XML out.

Everything is decided in ``webapp.interop.oai``; this view only collects the arguments as sent
(repeated ones included: the protocol calls them an error) and the repository's settings. Every
answer is HTTP 200, protocol errors included, as OAI-PMH requires.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request, url_for

from webapp.interop import oai
from webapp.models import utcnow

bp = Blueprint("oai", __name__)


@bp.route("/oai", methods=["GET", "POST"])
def endpoint():
    arguments = list(request.args.items(multi=True))
    if request.method == "POST":
        arguments += list(request.form.items(multi=True))
    settings = current_app.extensions["passages.settings"]
    repository = oai.Repository(
        base_url=url_for("oai.endpoint", _external=True),
        admin_email=settings.oai_admin_email,
        page_size=settings.oai_page_size,
        now=utcnow(),
    )
    response = Response(oai.respond(arguments, repository), mimetype="text/xml")
    response.headers["Cache-Control"] = "no-store"
    return response
