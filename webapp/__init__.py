"""Passages web application: ``create_app`` builds a configured Flask app.

Nothing happens at import time. The factory reads settings, binds extensions, registers blueprints
and error handlers; it never starts servers or workers (``passages run`` does that). The CLI
commands live on the ``passages`` group in ``webapp.cli``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from webapp.config import Settings

log = logging.getLogger(__name__)


def create_app(config: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Build the app.

    ``config`` is either a ready ``Settings`` or a mapping of environment-variable names
    (``DATABASE_URL``, ``PASSAGES_DATA_DIR``…) layered over ``os.environ``; upper-case Flask keys
    such as ``TESTING`` in that mapping also go to ``app.config``.
    """
    import os

    from webapp import auth, errorhandlers, hardening, i18n, ratelimits
    from webapp.blueprints import api, curation, indicators, moderation, public, submit
    from webapp.extensions import csrf, db, login_manager, migrate
    from webapp.identifiers import BoundedIntegerConverter
    from webapp.services import backends
    from webapp.uploads import PassagesRequest

    flask_overrides: dict[str, Any] = {}
    if isinstance(config, Settings):
        settings = config
    else:
        env = dict(os.environ)
        if config:
            env.update({k: str(v) for k, v in config.items() if isinstance(v, str | int | float)})
            flask_overrides = {k: v for k, v in config.items() if k.isupper()}
        settings = Settings.from_env(env)

    app = Flask(__name__)
    app.request_class = PassagesRequest  # uploads are hashed while they are spooled
    # Every <int:…> in a URL stops at the database's bound: a larger number is a 404, not a 500.
    app.url_map.converters["int"] = BoundedIntegerConverter
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app.config.update(
        SECRET_KEY=settings.resolved_secret_key(),
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings),
        # Whole request on the upload routes: every image at its maximum, one recording at its
        # maximum, and room for the text fields (other routes: MAX_REQUEST_KB, webapp.hardening).
        MAX_CONTENT_LENGTH=settings.max_upload_request_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        REMEMBER_COOKIE_SECURE=settings.session_cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.config.update(flask_overrides)
    app.extensions["passages.settings"] = settings

    hardening.init_app(app, settings)  # before CSRF: bodies are bounded before any form is read
    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    auth.init_app(app)
    backends.init_app(app)
    i18n.init_app(app)
    from webapp import page_cache

    page_cache.init_app(
        app,
        settings.page_cache_seconds,
        settings.queue_prefix,
        page_cache.Ceiling(keys=settings.page_cache_max_keys, megabytes=settings.page_cache_max_mb),
    )

    app.register_blueprint(public.bp)
    app.register_blueprint(submit.bp)
    app.register_blueprint(moderation.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(curation.bp)
    from webapp.blueprints import documents as documents_pages

    app.register_blueprint(documents_pages.bp)
    app.register_blueprint(indicators.bp)
    from webapp.blueprints import accounts as accounts_pages
    from webapp.blueprints import admin, classes, quarantine

    app.register_blueprint(accounts_pages.bp)
    app.register_blueprint(classes.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(quarantine.bp)
    from webapp.blueprints import checks as checks_pages

    app.register_blueprint(checks_pages.bp)
    from webapp.blueprints import oai
    from webapp.services import publication  # noqa: F401 - registers the public-record hooks

    app.register_blueprint(oai.bp)
    from webapp.blueprints import public_api, syndication

    app.register_blueprint(public_api.bp)
    app.register_blueprint(syndication.bp)
    csrf.exempt(oai.bp)  # harvesters POST the protocol's arguments; nothing there changes data
    from webapp.blueprints import iiif as iiif_api

    app.register_blueprint(iiif_api.bp)
    from webapp.blueprints import health

    app.register_blueprint(health.bp)
    from webapp.blueprints import exhibitions as exhibition_pages
    from webapp.blueprints import jobs as jobs_pages

    app.register_blueprint(exhibition_pages.bp)

    app.register_blueprint(jobs_pages.bp)
    from webapp.blueprints import dossiers as dossier_pages
    from webapp.blueprints import projects as project_pages

    app.register_blueprint(dossier_pages.bp)
    app.register_blueprint(project_pages.bp)
    from webapp.blueprints import recordings

    app.register_blueprint(recordings.bp)
    from webapp import metrics

    metrics.init_app(app)  # /metrics, and the request counters every response goes through
    csrf.exempt(api.bp)  # the API authenticates with bearer tokens only (webapp.auth)
    errorhandlers.register(app)
    ratelimits.init_app(app, settings)
    if settings.search_warmup and not app.testing:
        from webapp import search_warmup

        search_warmup.start(app)
    return app


def _migrations_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent / "migrations"


def _engine_options(settings: Settings) -> dict[str, Any]:
    if settings.uses_sqlite:
        # Several processes (web, worker, relay) share the file: wait for locks instead of failing.
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True}
