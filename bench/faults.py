"""Fault bench: submissions on the production shape while its processes are broken on purpose.

Starts, all on loopback: a throw-away PostgreSQL database (on the server named by
PASSAGES_TEST_POSTGRES_URL), a throw-away redis-server (append-only file, as in the compose
file), moto_server as the S3 server, gunicorn (2 processes × 4 threads), two `passages worker`
processes and one `passages relay`. Then N clients-worth of submissions (one JPEG each, an
Idempotency-Key each, retried with the same key after any error or timeout, as a careful client
does) from C client threads, while it:

  * kills a worker with SIGKILL five times (it is started again a second later),
  * restarts Redis twice (SIGTERM, 3 s down, started again on the same port and data),
  * takes the S3 server away once (SIGSTOP for 10 s, then SIGCONT: the data is kept),

then waits until every accepted story is processed (images ready, outbox relayed), runs the
leftover collector with a zero grace period, and prints:

  accepted / lost / duplicated / stuck / orphans (before and after collection) / drain seconds

where *lost* is an accepted story missing from the database, *duplicated* a story created twice
for one client request, *stuck* an image not ``ready`` when the drain ends, *orphans* objects no
row refers to, and *drain* the seconds from the end of the last fault to the moment nothing is
left to do. Exit status 1 when lost, duplicated, stuck or orphans-after-collection is not 0.

Usage: python bench/faults.py [--stories 1000] [--clients 20] [--drain-timeout 900]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import POSTGRES_URL, make_jpeg  # noqa: E402
from tests.service_processes import MotoServer, RedisServer, free_port  # noqa: E402


class DurableRedis(RedisServer):
    """redis-server with the append-only file on, like the compose file's Redis."""

    def command(self) -> list[str]:
        command = super().command()
        at = command.index("--appendonly")
        command[at + 1] = "yes"
        return command


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _multipart(metadata: dict, image: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'.encode())
    out.write(json.dumps(metadata).encode())
    out.write(
        f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="images"; '
        f'filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
    )
    out.write(image)
    out.write(f"\r\n--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


@dataclass
class Tally:
    accepted: dict[str, int] = field(default_factory=dict)  # marker -> story id
    attempts: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    gave_up: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, what: str) -> None:
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1


class Stack:
    """The processes of the production shape, each restartable."""

    def __init__(self, work: Path, database_url: str, redis: RedisServer, s3: MotoServer):
        self.work = work
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("S3_", "REDIS_URL", "DATABASE_URL", "PASSAGES_"))
        }
        self.env.update(
            # Self-healing within the drain window: a job lost with a killed worker is re-emitted
            # after 60 s (the defaults, 300 s grace + 120 s passes, outlast a short drain).
            PASSAGES_RECONCILE_INTERVAL="15",
            PASSAGES_RECONCILE_GRACE="60",
            PASSAGES_DATA_DIR=str(work / "data"),
            DATABASE_URL=database_url,
            REDIS_URL=redis.url,
            S3_ENDPOINT=s3.url,
            S3_ACCESS_KEY=s3.access_key,
            S3_SECRET_KEY=s3.secret_key,
            S3_REGION=s3.region,
            S3_BUCKET="faults",
            SECRET_KEY="fault-bench",
            PASSAGES_LOG_LEVEL="WARNING",
            PASSAGES_QUEUE_PREFIX=f"faults{os.getpid()}",
            # 20 clients from one address, on purpose: this measures faults, not rate limits.
            RATE_LIMITS_ENABLED="false",
        )
        self.web: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen | None] = [None, None]
        self.relay: subprocess.Popen | None = None
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "webapp.cli", *args],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            raise RuntimeError(f"passages {' '.join(args)} failed:\n{result.stderr}")
        return result.stdout

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        handle = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        return subprocess.Popen(
            command, env=self.env, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT
        )

    def start_web(self) -> None:
        self.web = self._spawn(
            "web",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--timeout",
                "120",
                "webapp:create_app()",
            ],
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=2)
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not come up")

    def start_worker(self, n: int) -> None:
        self.workers[n] = self._spawn(f"worker{n}", [sys.executable, "-m", "webapp.cli", "worker"])

    def start_relay(self) -> None:
        self.relay = self._spawn("relay", [sys.executable, "-m", "webapp.cli", "relay"])

    def stop_all(self) -> None:
        for process in [self.web, self.relay, *self.workers]:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [self.web, self.relay, *self.workers]:
            if process is None:
                continue
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def client(stack: Stack, token: str, markers: list[str], tally: Tally, deadline: float) -> None:
    for marker in markers:
        metadata = {
            "title": f"Récit {marker}",
            "body": f"Souvenir du marché, repère {marker}.",
            "language": "fr",
            "places": ["Vitry-sur-Seine"],
            "licence": "CC-BY-4.0",
            "consent": {"contributor": True},
        }
        body, content_type = _multipart(metadata, make_jpeg(96, 72, seed=hash(marker) % 997))
        key = f"bench-{marker}"
        delay = 0.5
        while True:
            with tally.lock:
                tally.attempts += 1
            request = urllib.request.Request(
                stack.base + "/api/v1/stories",
                data=body,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": content_type,
                    "Idempotency-Key": key,
                },
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    story_id = json.loads(response.read())["id"]
                with tally.lock:
                    tally.accepted[marker] = story_id
                break
            except urllib.error.HTTPError as exc:
                tally.error(f"http {exc.code}")
                if exc.code < 500 and exc.code != 429:
                    with tally.lock:
                        tally.gave_up.append(f"{marker}: HTTP {exc.code} {exc.read()[:200]!r}")
                    break
            except OSError as exc:
                tally.error(type(exc).__name__)
            if time.monotonic() > deadline:
                with tally.lock:
                    tally.gave_up.append(f"{marker}: still failing at the deadline")
                break
            time.sleep(delay + random.random() * delay)
            delay = min(delay * 2, 8)


def faults(stack: Stack, redis: RedisServer, s3: MotoServer, pace: float) -> float:
    """Run the fault schedule; return the monotonic time the last fault ended."""
    plan = ["worker", "redis", "worker", "s3", "worker", "redis", "worker", "worker"]
    kills = 0
    for fault in plan:
        time.sleep(pace)
        if fault == "worker":
            which = kills % 2
            kills += 1
            process = stack.workers[which]
            log(f"fault: SIGKILL worker {which} (pid {process.pid})")
            process.kill()
            process.wait()
            time.sleep(1)
            stack.start_worker(which)
        elif fault == "redis":
            log("fault: Redis stopped for 3 s")
            redis.stop()
            time.sleep(3)
            redis.start()
            log("fault: Redis back")
        else:
            log("fault: S3 server frozen (SIGSTOP) for 10 s")
            s3._process.send_signal(signal.SIGSTOP)
            time.sleep(10)
            s3._process.send_signal(signal.SIGCONT)
            log("fault: S3 server back")
    return time.monotonic()


def remaining_work(stack: Stack) -> dict[str, int]:
    """Images not ready and events not relayed, read from the database."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(stack.env["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            media = dict(
                conn.execute(
                    sqlalchemy.text("SELECT state, count(*) FROM media_assets GROUP BY state")
                ).all()
            )
            unrelayed = conn.execute(
                sqlalchemy.text("SELECT count(*) FROM outbox_events WHERE relayed_at IS NULL")
            ).scalar_one()
            markers = conn.execute(sqlalchemy.text("SELECT title FROM stories")).scalars().all()
    finally:
        engine.dispose()
    return {
        "pending": media.get("pending", 0),
        "failed": media.get("failed", 0),
        "ready": media.get("ready", 0),
        "unrelayed": unrelayed,
        "titles": markers,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stories", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--drain-timeout", type=float, default=900)
    parser.add_argument(
        "--pace",
        type=float,
        default=None,
        help="seconds between faults (default: scaled to the size)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    import sqlalchemy

    work = Path(tempfile.mkdtemp(prefix="passages-faults-"))
    db_name = f"passages_faults_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{db_name}"'))
    database_url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + db_name
    redis, s3 = DurableRedis(), MotoServer()
    stack = None
    try:
        redis.start()
        s3.start()
        stack = Stack(work, database_url, redis, s3)
        stack.cli("db", "upgrade")
        stack.cli(
            "create-user",
            "--email",
            "bench@example.org",
            "--role",
            "contributor",
            "--password",
            "bench-password-1",
        )
        token = stack.cli("create-token", "--email", "bench@example.org").strip().splitlines()[-1]
        stack.start_web()
        stack.start_worker(0)
        stack.start_worker(1)
        stack.start_relay()
        log(f"stack up: web {stack.base}, redis :{redis.port}, s3 :{s3.port}, db {db_name}")

        markers = [f"{n:05d}-{uuid.uuid4().hex[:6]}" for n in range(args.stories)]
        tally = Tally()
        started = time.monotonic()
        submit_deadline = started + max(600.0, args.stories * 2.0)
        threads = [
            threading.Thread(
                target=client,
                args=(stack, token, markers[i :: args.clients], tally, submit_deadline),
                daemon=True,
            )
            for i in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        pace = args.pace if args.pace is not None else max(3.0, args.stories / 40)
        last_fault = faults(stack, redis, s3, pace)
        for thread in threads:
            thread.join()
        submitted = time.monotonic()
        log(
            f"submissions done: {len(tally.accepted)} accepted in {submitted - started:.0f} s, "
            f"{tally.attempts} attempts, errors {tally.errors}"
        )

        drained_at = None
        drain_deadline = time.monotonic() + args.drain_timeout
        while time.monotonic() < drain_deadline:
            work_left = remaining_work(stack)
            if work_left["pending"] == 0 and work_left["unrelayed"] == 0:
                drained_at = time.monotonic()
                break
            time.sleep(2)
        work_left = remaining_work(stack)
        drain_seconds = (drained_at - last_fault) if drained_at else None

        titles = work_left["titles"]
        per_marker: dict[str, int] = {}
        for title in titles:
            per_marker[title.removeprefix("Récit ")] = (
                per_marker.get(title.removeprefix("Récit "), 0) + 1
            )
        lost = [m for m in tally.accepted if m not in per_marker]
        duplicated = sum(count - 1 for count in per_marker.values() if count > 1)
        stuck = work_left["pending"] + work_left["failed"]

        orphans_before = _orphans(stack)
        collected = stack.cli("collect", "--grace-hours", "0").strip().splitlines()[0]
        orphans_after = _orphans(stack)

        figures = {
            "stories": args.stories,
            "clients": args.clients,
            "accepted": len(tally.accepted),
            "gave_up": len(tally.gave_up),
            "lost": len(lost),
            "duplicated": duplicated,
            "stuck": stuck,
            "stuck_pending": work_left["pending"],
            "stuck_failed": work_left["failed"],
            "orphans_before_collection": orphans_before,
            "orphans_after_collection": orphans_after,
            "drain_seconds_after_last_fault": round(drain_seconds, 1) if drain_seconds else None,
            "submit_seconds": round(submitted - started, 1),
            "attempts": tally.attempts,
            "client_errors": tally.errors,
        }
        print(json.dumps(figures, indent=2))
        log(f"collector: {collected}")
        for line in tally.gave_up[:10]:
            log(f"gave up: {line}")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
        bad = figures["lost"] or duplicated or stuck or orphans_after or drained_at is None
        return 1 if bad else 0
    finally:
        if stack is not None:
            stack.stop_all()
        redis.close()
        s3.close()
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        admin.dispose()


def _orphans(stack: Stack) -> int:
    """Objects no row refers to (the check's orphan listing, at any age)."""
    script = (
        "from webapp import create_app\n"
        "from webapp.operations.collector import unreferenced_objects\n"
        "from webapp.services import backends\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    print(len(unreferenced_objects(backends.object_store())))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=stack.env, cwd=REPO, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    return int(result.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    sys.exit(main())
