"""Shared fixtures: a fresh app per test, real throw-away services, and user-level actions.

Every test gets its own data folder (SQLite file, object folder, index). Tests that need Redis,
S3 or PostgreSQL get real servers: throw-away redis-server and moto_server processes on free
loopback ports, and a throw-away database on the PostgreSQL named by PASSAGES_TEST_POSTGRES_URL.
When a service is missing the test is skipped, unless PASSAGES_REQUIRE_SERVICES=1 (set by
.ci/run), which turns the skip into a failure.
"""

from __future__ import annotations

import atexit
import io
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from jinja2 import BytecodeCache, Environment
from jinja2.bccache import Bucket
from PIL import Image, ImageDraw

from tests.service_processes import (
    MotoServer,
    RedisServer,
    ServiceNotInstalled,
    service_missing,
)

REPO = Path(__file__).resolve().parent.parent


def _scratch_folder() -> str | None:
    """Where tests keep their data: ``PASSAGES_TEST_TMPDIR``, else memory (``/dev/shm``) when the
    machine has it, else the system's temporary folder.

    Every test commits to its own SQLite database (WAL, ``synchronous=FULL``: production's
    settings); on a disk each commit waits for an fsync, about 9 ms on a loaded virtual disk,
    and thousands of commits were a large share of the quick suite's time. No test checks what
    survives a power cut (a killed process keeps what it wrote on tmpfs too), so memory-backed
    files change no result. Set before pytest picks its base folder (``tmp_path``), and used by
    ``tempfile`` for the session's template database and the throw-away servers' folders.
    """
    chosen = os.environ.get("PASSAGES_TEST_TMPDIR")
    if chosen:
        return chosen
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return str(shm)
    return None


tempfile.tempdir = _scratch_folder()


def _share_url_builders() -> None:
    """Build each URL rule's ``url_for`` function once per session instead of once per app.

    Each test gets a fresh app, and registering its ~70 routes made Werkzeug generate and
    ``compile`` two Python functions per route (``Rule._compile_builder``): about two thirds of
    the cost of creating an app. What that function does depends only on the rule's text, its
    parsed parts (``_trace``), its defaults (baked in as converted strings) and whether unknown
    arguments are appended; it reads the rule's converters at call time through its ``self``
    argument. So a builder made for one app is the one Werkzeug would make for the next, and is
    kept under exactly those inputs. If Werkzeug ever reads something else there, ``url_for``
    gives wrong URLs and the page tests fail loudly; if the private method is gone, nothing is
    shared.
    """
    from werkzeug.routing import rules

    original = getattr(rules.Rule, "_compile_builder", None)
    if original is None:
        return
    builders: dict[tuple, Callable[..., tuple[str, str]]] = {}

    def compile_builder(rule: rules.Rule, append_unknown: bool = True):
        defaults = rule.defaults or {}
        baked = tuple(
            (name, str(value), rule._converters[name].to_url(value))
            if name in rule._converters
            else (name, str(value), None)
            for name, value in defaults.items()
        )
        key = (rule.rule, tuple(rule._trace), append_unknown, baked)
        builder = builders.get(key)
        if builder is None:
            builder = builders[key] = original(rule, append_unknown)
        return builder

    rules.Rule._compile_builder = compile_builder


_share_url_builders()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the ``slow`` tests first, the quick ones after (each group in its usual order), when
    pytest-xdist hands tests out a few at a time (``--maxschedchunk``, as ``.ci/test`` runs it).

    Then workers take tests in this order as they free up. In file order a minute-long test
    (the fault bench, a crash and restart, the backup round trip) could start in the last
    minutes and run on alone while the other workers sat idle; started first, the long tests
    overlap one another and the quick tests fill the gaps at the end. Without the option xdist
    first gives each worker one long consecutive block, which would put every slow test on the
    first worker: the file order is kept. The sort is stable, so every worker sees the same
    order, as xdist requires.
    """
    if config.getoption("maxschedchunk", None):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


POSTGRES_URL = os.environ.get(
    "PASSAGES_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PASSWORD = "correct-horse-battery"
_counter = itertools.count(1)


# --- real services -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    try:
        server = MotoServer()
    except ServiceNotInstalled as exc:
        service_missing(str(exc))
    with server:
        yield server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    try:
        server = RedisServer()
    except ServiceNotInstalled as exc:
        service_missing(str(exc))
    with server:
        yield server


@pytest.fixture(scope="session", autouse=True)
def no_redis_server_outlives_the_session(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    """Fail the session (this xdist worker's) if a redis-server is left running in its tmp folder.

    Tests start embedded servers in their data folders, in this process (``webapp.broker``) or
    in the ``passages`` processes they run. At the end this does what this process's exit would
    (stop its own servers unless another process still uses them); anything still running under
    this session's tmp folder then is a leak — a product bug (a ``passages`` command that leaves
    its server behind) or a test's. It is terminated so it cannot pile up, and named in the
    error, whose folder (``<test name>0/…/redis``) says which test left it.
    """
    yield
    from webapp import broker

    broker.stop_embedded_redis(only_if_last=True)
    strays = _redis_servers_under(tmp_path_factory.getbasetemp())
    if not strays:
        return
    for process in strays:
        process.terminate()
    _gone, alive = psutil.wait_procs(strays, timeout=5)
    for process in alive:
        process.kill()
    folders = "\n".join(f"  pid {p.pid}: {folder}" for p, folder in strays.items())
    pytest.fail(f"redis-server left running after the tests (now terminated):\n{folders}")


def _redis_servers_under(folder: Path) -> dict[psutil.Process, str]:
    """redis-server processes whose working directory (their data folder) is under ``folder``."""
    found = {}
    root = str(folder.resolve())
    for process in psutil.process_iter(["name", "cwd"]):
        cwd = process.info["cwd"] or ""
        if process.info["name"] == "redis-server" and (cwd + "/").startswith(root + "/"):
            found[process] = cwd
    return found


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        service_missing(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
    return POSTGRES_URL


#: Databases made by ``postgres_url`` that no app has used yet: ``build_app`` fills such a
#: database from the session's migrated template instead of running the migrations on it.
_fresh_postgres_urls: set[str] = set()


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh empty database for one test, dropped afterwards."""
    import sqlalchemy

    name = f"passages_t_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    base = postgres_server_url.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    _fresh_postgres_urls.add(url)
    try:
        yield url
    finally:
        _fresh_postgres_urls.discard(url)
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- the application -----------------------------------------------------------------------


_template_dir: Path | None = None


def _migrated_template() -> Path:
    """A SQLite database migrated to the head once per test session, copied for each test.

    Running the Alembic migrations for every test cost more than most tests themselves; a file
    copy costs a millisecond. The template is built by the same migrations, so tests still run
    on exactly the schema production gets.
    """
    global _template_dir
    if _template_dir is None:
        from flask_migrate import upgrade

        from webapp import create_app

        _template_dir = Path(tempfile.mkdtemp(prefix="passages-template-"))
        atexit.register(shutil.rmtree, _template_dir, ignore_errors=True)
        data_dir = _template_dir / "data"
        app = create_app(
            {
                "PASSAGES_DATA_DIR": str(data_dir),
                "DATABASE_URL": f"sqlite:///{data_dir / 'passages.sqlite3'}",
                "REDIS_URL": "",
                "S3_ENDPOINT": "",
                "SECRET_KEY": "template",
                "TESTING": True,
            }
        )
        from webapp.extensions import db

        with app.app_context():
            upgrade(directory=str(app.extensions["migrate"].directory), revision="heads")
            db.session.remove()
            db.engine.dispose()
    return _template_dir / "data" / "passages.sqlite3"


class _SessionTemplateCode(BytecodeCache):
    """Compiled Jinja templates shared by every app the test session builds.

    Each test gets a fresh app, and each app's Jinja environment compiled every template it
    rendered again (parse, generate Python, ``compile``): a few milliseconds per template per
    test. Jinja's own bytecode cache keeps the compiled code keyed by template name and source
    checksum (an edited template is compiled again); the key also names the environment's
    compile-time settings, so an app configured differently never gets another's code.
    Rendering is unchanged: the same code runs, it is just not rebuilt.
    """

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()

    def get_bucket(self, environment: Environment, name: str, filename: str | None,
                   source: str) -> Bucket:  # fmt: skip
        settings = repr(
            (
                sorted(environment.extensions),
                getattr(environment, "newstyle_gettext", None),
                environment.trim_blocks,
                environment.lstrip_blocks,
                environment.keep_trailing_newline,
                environment.optimized,
                environment.block_start_string,
                environment.variable_start_string,
                environment.comment_start_string,
                environment.line_statement_prefix,
            )
        )
        return super().get_bucket(environment, f"{settings}:{name}", filename, source)


_template_code = _SessionTemplateCode()


def _share_compiled_templates(app) -> None:
    app.jinja_env.bytecode_cache = _template_code


_postgres_template: str | None = None


def _fill_from_postgres_template(url: str) -> None:
    """Make the fresh database at ``url`` a copy of a PostgreSQL database migrated once per
    session (``CREATE DATABASE … TEMPLATE``: a file copy in the server, where running the
    migrations cost about a second per test). The template is made by the same migrations."""
    global _postgres_template
    import sqlalchemy
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.extensions import db

    base, name = url.rsplit("/", 1)
    admin = sqlalchemy.create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if _postgres_template is None:
                template = f"passages_tmpl_{uuid.uuid4().hex[:12]}"
                conn.execute(sqlalchemy.text(f'CREATE DATABASE "{template}"'))
                folder = Path(tempfile.mkdtemp(prefix="passages-pg-template-"))
                app = create_app(
                    {
                        "PASSAGES_DATA_DIR": str(folder),
                        "DATABASE_URL": f"{base}/{template}",
                        "REDIS_URL": "",
                        "S3_ENDPOINT": "",
                        "SECRET_KEY": "template",
                        "TESTING": True,
                    }
                )
                with app.app_context():
                    upgrade(directory=str(app.extensions["migrate"].directory), revision="heads")
                    db.session.remove()
                    db.engine.dispose()
                shutil.rmtree(folder, ignore_errors=True)
                _postgres_template = template
                atexit.register(_drop_postgres_database, f"{base}/postgres", template)
            conn.execute(sqlalchemy.text(f'DROP DATABASE "{name}"'))
            conn.execute(
                sqlalchemy.text(f'CREATE DATABASE "{name}" TEMPLATE "{_postgres_template}"')
            )
    finally:
        admin.dispose()


def _drop_postgres_database(admin_url: str, name: str) -> None:
    import sqlalchemy

    admin = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def build_app(data_dir: Path, **env: str):
    """A migrated app on ``data_dir``; ``env`` holds environment-style settings.

    A new SQLite database starts as a copy of the session's migrated template, and so does a
    fresh PostgreSQL database from the ``postgres_url`` fixture (a copy of a PostgreSQL
    template); an existing database (a second app on the same data) is migrated as before.
    """
    from flask_migrate import upgrade

    from webapp import create_app

    config: dict[str, Any] = {
        "PASSAGES_DATA_DIR": str(data_dir),
        "DATABASE_URL": f"sqlite:///{data_dir / 'passages.sqlite3'}",
        "REDIS_URL": "",
        "S3_ENDPOINT": "",
        "SECRET_KEY": "test-secret",
        "PASSAGES_QUEUE_PREFIX": f"t{os.getpid()}-{next(_counter)}",
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": "passages.test",
        # Rate limits are off for speed; tests/security turns them on where they are the subject.
        "RATE_LIMITS_ENABLED": "false",
        # No Redis for rendered pages unless a test is about the page cache (tests/public/
        # test_page_cache.py): most tests would otherwise each start an embedded server.
        "PAGE_CACHE_SECONDS": "0",
    }
    config.update(env)
    database = data_dir / "passages.sqlite3"
    if config["DATABASE_URL"] == f"sqlite:///{database}" and not database.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_migrated_template(), database)
        app = create_app(config)
        _share_compiled_templates(app)
        return app
    if config["DATABASE_URL"] in _fresh_postgres_urls:
        _fresh_postgres_urls.discard(config["DATABASE_URL"])
        _fill_from_postgres_template(config["DATABASE_URL"])
        app = create_app(config)
        _share_compiled_templates(app)
        return app
    app = create_app(config)
    _share_compiled_templates(app)
    with app.app_context():
        upgrade(directory=str(app.extensions["migrate"].directory), revision="heads")
    return app


@pytest.fixture
def app(tmp_path: Path):
    app = build_app(tmp_path / "data")
    yield app
    _dispose(app)


def _dispose(app) -> None:
    from webapp.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()
        index = app.extensions["passages.backends"].get("search")
        if index is not None:
            index.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def ctx(app):
    """Run the test body inside an application context (for calling services directly)."""
    with app.app_context():
        yield app


def worker_env(app) -> dict[str, str]:
    """The environment a separate worker process needs to work on ``app``'s data."""
    from webapp import broker

    settings = app.extensions["passages.settings"]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("S3_", "DATABASE_URL", "REDIS_URL", "PASSAGES_"))
    }
    env.update(
        PASSAGES_DATA_DIR=str(settings.data_dir),
        DATABASE_URL=settings.database_url,
        REDIS_URL=broker.redis_url_for(settings),
        PASSAGES_QUEUE_PREFIX=settings.queue_prefix,
        SECRET_KEY="test-secret",
        PASSAGES_LOG_LEVEL="WARNING",
    )
    if settings.s3_endpoint:
        env.update(
            S3_ENDPOINT=settings.s3_endpoint,
            S3_ACCESS_KEY=settings.s3_access_key or "",
            S3_SECRET_KEY=settings.s3_secret_key or "",
            S3_BUCKET=settings.s3_bucket,
            S3_REGION=settings.s3_region or "",
        )
    return env


def run_worker_burst_process(
    app, *args: str, timeout: float = 180, **env: str
) -> subprocess.CompletedProcess:
    """Run a real ``passages worker --burst`` process until the outbox and queues are empty.

    ``args`` go to the command (``--queues images``), ``env`` overrides its environment.
    """
    result = subprocess.run(
        [sys.executable, "-m", "webapp.cli", "worker", "--burst", *args],
        env={**worker_env(app), **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"worker failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def run_worker_burst() -> Callable[..., subprocess.CompletedProcess]:
    return run_worker_burst_process


# --- people and actions ----------------------------------------------------------------------


@pytest.fixture
def make_user(app) -> Callable[..., Any]:
    def make(role: str = "contributor", email: str | None = None, password: str = PASSWORD):
        email = email or f"{role}{next(_counter)}@example.org"
        with app.app_context():
            user, _ = create_user_now(email, role, password)
            return user.id

    return make


@pytest.fixture
def api_token(app) -> Callable[[int], str]:
    """Issue a bearer token for a user id (students have no e-mail, so not by address)."""

    def issue(user_id: int) -> str:
        from webapp.extensions import db
        from webapp.models import ApiToken, User

        with app.app_context():
            row, token = ApiToken.issue(db.session.get(User, user_id), "test")
            db.session.add(row)
            db.session.commit()
            return token

    return issue


def create_user_now(email: str, role: str, password: str = PASSWORD, **options: Any):
    """Create (or update) a user through the service in its own unit of work, as the CLI does;
    return ``(user, created)``. Needs an application context."""
    from webapp.services.accounts import create_or_update_user
    from webapp.unit_of_work import unit_of_work

    with unit_of_work() as uow:
        return create_or_update_user(uow, email, role, password, **options)


def issue_token_now(email: str, label: str = "test") -> str:
    """Issue an API token for ``email`` in its own unit of work; return the clear token."""
    from webapp.services.accounts import issue_token
    from webapp.unit_of_work import unit_of_work

    with unit_of_work() as uow:
        return issue_token(uow, email, label)[1]


def make_jpeg(width: int = 640, height: int = 480, seed: int = 1, **save: Any) -> bytes:
    """A small photo-like JPEG with structure, so derivatives can be checked by pixels."""
    image = Image.new("RGB", (width, height), (200 - seed * 13 % 150, 120, 60 + seed * 29 % 180))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, width // 2, height // 2], fill=(250, 250, 250))
    draw.ellipse([width // 3, height // 3, width * 2 // 3, height * 2 // 3], fill=(10, 40, 200))
    out = io.BytesIO()
    image.save(out, "JPEG", **{"quality": 90, **save})
    return out.getvalue()


@pytest.fixture
def sample_jpeg() -> Callable[..., bytes]:
    return make_jpeg


def story_metadata(**overrides: Any) -> dict[str, Any]:
    metadata = {
        "title": "Le marché de Vitry",
        "body": "Ma grand-mère vendait des épices au marché de Vitry le samedi.",
        "language": "fr",
        "places": ["Vitry-sur-Seine"],
        "period": "1962",
        "themes": ["work"],
        "licence": "CC-BY-4.0",
        "consent": {"contributor": True},
    }
    metadata.update(overrides)
    return metadata


def submit_story_via_api(
    client, token: str, metadata: Any = None, images: list[tuple[str, bytes]] | None = None
):
    """POST /api/v1/stories as an integration would (multipart: metadata + images)."""
    data: dict[str, Any] = {
        "metadata": metadata
        if isinstance(metadata, str)
        else json.dumps(metadata if metadata is not None else story_metadata())
    }
    if images:
        data["images"] = [(io.BytesIO(content), name) for name, content in images]
    return client.post(
        "/api/v1/stories",
        data=data,
        headers={"Authorization": f"Bearer {token}"},
        content_type="multipart/form-data",
    )


@pytest.fixture
def submit_via_api(client):
    def submit(token: str, metadata: Any = None, images: list[tuple[str, bytes]] | None = None):
        return submit_story_via_api(client, token, metadata, images)

    return submit


@pytest.fixture
def publish(app) -> Callable[[int], None]:
    """Approve and publish a story as an archivist (through the review service)."""

    def do(story_id: int) -> None:
        from webapp.extensions import db
        from webapp.models import Role, User
        from webapp.services import review

        with app.app_context():
            archivist = db.session.scalar(db.select(User).where(User.role == Role.ARCHIVIST.value))
            if archivist is None:
                archivist, _ = create_user_now(
                    f"archivist{next(_counter)}@example.org", "archivist", PASSWORD
                )
            in_action(review.review, story_id, "approve", None, archivist)

    return do


def submit_story_now(metadata: Any, images: list, **options: Any):
    """Submit a story through the service in its own unit of work (one committed action), as a
    view would; return the committed story. Needs an application context."""
    from webapp.services import submissions
    from webapp.unit_of_work import unit_of_work

    with unit_of_work() as uow:
        story = submissions.submit_story(uow, metadata, images, **options)
    return story


def in_action(service: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a service as a view does: in its own unit of work, committed when it returns.
    ``in_action(review.apply, story_id, "forward", teacher)``. Needs an application context."""
    from webapp.unit_of_work import unit_of_work

    with unit_of_work() as uow:
        return service(uow, *args, **kwargs)
