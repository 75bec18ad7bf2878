"""Serve a throw-away archive holding one published image, for running IIIF validators by hand.

    python bench/iiif_validation_server.py validation_image.png --port 18734
    # then, in a Python 3.12 environment with iiif-validator-ng and libvips:
    iiif-validator --validation-id <printed media id> http://127.0.0.1:18734/iiif/3

The image goes through the real pipeline (submission, image job, publication) in a temporary
folder, which is deleted when the server stops (Ctrl+C). Never point it at real data.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("--port", type=int, default=18734)
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("bench_iiif", ROOT / "bench" / "iiif.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    from werkzeug.serving import run_simple

    with tempfile.TemporaryDirectory(prefix="passages-iiif-validation-") as folder:
        app, stories, _ = bench.build_archive(Path(folder) / "data", [args.image.read_bytes()])
        app.config["SERVER_NAME"] = f"127.0.0.1:{args.port}"
        print(f"media id: {stories[0][1]}", flush=True)
        run_simple("127.0.0.1", args.port, app, threaded=True)


if __name__ == "__main__":
    main()
