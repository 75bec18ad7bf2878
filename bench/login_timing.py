"""Login timing: a real account with a wrong password against unknown e-mail addresses, with the
production hash (scrypt). Prints medians in milliseconds; run from the repository root:

    .venv/bin/python bench/login_timing.py [ATTEMPTS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import _dispose, build_app, create_user_now  # noqa: E402


def main(attempts: int = 20) -> None:
    app = build_app(
        Path(tempfile.mkdtemp()) / "data",
        PASSWORD_HASH_METHOD="scrypt",
        LOGIN_FREE_ATTEMPTS="100000",
        LOGIN_ADDRESS_FREE_ATTEMPTS="100000",
    )
    try:
        with app.app_context():
            create_user_now("real@example.org", "teacher", "a-real-password")
        client = app.test_client()

        def timed(email: str) -> float:
            start = time.perf_counter()
            response = client.post("/login", data={"email": email, "password": "wrong-guess"})
            elapsed = time.perf_counter() - start
            assert response.status_code == 401, response.status_code
            return elapsed * 1000

        timed("warm-up@example.org")
        real = [timed("real@example.org") for _ in range(attempts)]
        unknown = [timed(f"nobody{n}@example.org") for n in range(attempts)]
        print(f"real account, wrong password: median {statistics.median(real):.1f} ms")
        print(f"unknown account:              median {statistics.median(unknown):.1f} ms")
    finally:
        _dispose(app)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
