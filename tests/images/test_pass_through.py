"""The worker's time-out must not be dressed up as a broken image."""

from __future__ import annotations

import pytest

from tests.conftest import make_jpeg
from webapp.media import imaging


class FakeTimeout(Exception):
    """Stands for RQ's JobTimeoutException, which subclasses Exception."""


@pytest.fixture
def render_times_out(monkeypatch):
    def slow(*args, **kwargs):
        raise FakeTimeout("Task exceeded maximum timeout value (1 seconds)")

    monkeypatch.setattr(imaging, "_render", slow)


def test_a_registered_time_out_goes_through_untouched(render_times_out, monkeypatch):
    monkeypatch.setattr(imaging, "NEVER_SWALLOW", (FakeTimeout,))
    with pytest.raises(FakeTimeout):
        imaging.build_derivatives(make_jpeg())


def test_any_other_decoder_error_becomes_a_readable_rejection(render_times_out):
    with pytest.raises(imaging.InvalidImage) as caught:
        imaging.build_derivatives(make_jpeg())
    assert caught.value.reason.startswith("the image could not be processed")
