"""``passages derive``: what an archivist sees when running it on a folder of scans."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from webapp.media.imaging import DEFAULT_SPECS, build_derivatives
from workers.derive_command import derive_command

from .conftest import decode, encode, png_bomb, upright

EXPECTED_FILES = sorted(f"{s.name}.{s.ext}" for s in DEFAULT_SPECS)


def test_writes_the_workers_derivatives_for_each_file(tmp_path):
    photo = tmp_path / "grandmother.jpg"
    photo.write_bytes(encode(upright(1000, 700), "JPEG", quality=90))
    scan = tmp_path / "passport scan.png"
    scan.write_bytes(encode(upright(400, 600), "PNG"))
    out = tmp_path / "out"
    result = CliRunner().invoke(derive_command, [str(photo), str(scan), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["ok grandmother.jpg", "ok passport scan.png"]
    for source in (photo, scan):
        folder = out / source.name
        assert sorted(p.name for p in folder.iterdir()) == EXPECTED_FILES
        expected = build_derivatives(source.read_bytes())
        for d in expected:
            assert (folder / f"{d.name}.{d.ext}").read_bytes() == d.data
    assert decode((out / "grandmother.jpg" / "medium.webp").read_bytes()).size == (800, 560)


def test_goes_on_after_rejected_files_and_exits_1(tmp_path):
    good = tmp_path / "good.jpg"
    good.write_bytes(encode(upright(), "JPEG"))
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(b"%PDF-1.4\n%...")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(encode(upright(), "JPEG")[:900])
    missing = tmp_path / "missing.jpg"
    out = tmp_path / "out"
    args = [str(letter), str(missing), str(cut), str(good), str(tmp_path), "--out", str(out)]
    result = CliRunner().invoke(derive_command, args)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "rejected letter.pdf: unsupported format: PDF",
        "rejected missing.jpg: file not found",
        "rejected cut.jpg: the image is damaged or incomplete (truncated JPEG data)",
        "ok good.jpg",
        f"rejected {tmp_path.name}: it is a folder, not a file",
    ]
    assert sorted(p.name for p in out.iterdir()) == ["good.jpg"]  # nothing for rejected files


def test_rerun_replaces_the_previous_output(tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(encode(upright(), "PNG"))
    out = tmp_path / "out"
    (out / "photo.png").mkdir(parents=True)
    (out / "photo.png" / "stale.webp").write_bytes(b"old")
    result = CliRunner().invoke(derive_command, [str(photo), "--out", str(out)])
    assert result.exit_code == 0
    assert sorted(p.name for p in (out / "photo.png").iterdir()) == EXPECTED_FILES


def test_unwritable_output_is_a_rejection_not_a_traceback(tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(encode(upright(), "PNG"))
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the output folder should be")
    result = CliRunner().invoke(derive_command, [str(photo), "--out", str(blocker / "sub")])
    assert result.exit_code == 1
    assert result.output.startswith("rejected photo.png: could not write to")
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.slow
def test_runs_as_a_program_without_tracebacks(tmp_path):
    good = tmp_path / "a.png"
    good.write_bytes(encode(upright(), "PNG"))
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(30000, 30000))
    unreadable = tmp_path / "locked.jpg"
    unreadable.write_bytes(b"x")
    unreadable.chmod(0)
    cmd = [sys.executable, "-c", "from workers.derive_command import derive_command; "
           "derive_command()", str(good), str(bomb), str(tmp_path / "nope.gif"), str(unreadable),
           "--out", str(tmp_path / "out")]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0] == "ok a.png"
    assert (
        lines[1]
        == "rejected bomb.png: image too large: 30000×30000 pixels, the limit is 100 megapixels"
    )
    assert lines[2] == "rejected nope.gif: file not found"
    # root can read mode-000 files; then the one byte is refused as not an image.
    assert lines[3] in (
        "rejected locked.jpg: permission denied",
        "rejected locked.jpg: unsupported format: text file",
    )
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_all_accepted_exits_0_as_a_program(tmp_path):
    good = tmp_path / "a.gif"
    good.write_bytes(encode(upright().convert("P"), "GIF"))
    cmd = [sys.executable, "-c", "from workers.derive_command import derive_command; "
           "derive_command()", str(good), "--out", str(tmp_path / "out")]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "ok a.gif\n", "")
