"""Recordings are converted on their own queue, by the workers the site starts."""

from __future__ import annotations

import pytest

from tests.conftest import make_jpeg
from tests.recordings.generate import make_audio, make_video
from webapp.reasons import words


def test_recordings_go_to_their_own_queue_with_a_time_limit_that_grows_with_length(app, upload):
    from webapp.extensions import db
    from webapp.models import OutboxEvent
    from workers.relay import jobs_for

    story = upload(
        ("photo.jpg", make_jpeg()), ("voix.mp3", make_audio("mp3", 3.0)),
        ("film.mov", make_video(seconds=1.0)),
    ).json  # fmt: skip
    image, audio, video = (m["id"] for m in story["media"])
    with app.app_context():
        event = db.session.scalar(
            db.select(OutboxEvent).where(OutboxEvent.event_type == "story.submitted")
        )
        routes = jobs_for(event)
    assert [(r.queue, r.func, r.args) for r in routes] == [
        ("images", "workers.images.derive_media", (image,)),
        ("recordings", "workers.recordings.derive_recording", (audio,)),
        ("recordings", "workers.recordings.derive_recording", (video,)),
        ("search", "workers.search.index_story", (story["id"],)),
    ]
    assert routes[1].timeout == 1800 + int(3.0 * 1.5)  # PASSAGES_RECORDING_TIMEOUT(_PER_SECOND)


def test_a_forced_rederivation_of_a_recording_stays_on_its_queue(app, upload):
    from webapp.unit_of_work import unit_of_work
    from workers.images import request_rederive
    from workers.relay import jobs_for

    story = upload(("voix.wav", make_audio("wav", 1.0))).json
    with app.app_context():
        with unit_of_work() as uow:
            request_rederive(uow, [story["id"]])
        from webapp.extensions import db
        from webapp.models import OutboxEvent

        event = db.session.scalar(
            db.select(OutboxEvent).where(OutboxEvent.event_type == "media.rederive_requested")
        )
        routes = jobs_for(event)
    assert [(r.queue, r.args) for r in routes] == [("recordings", (story["media"][0]["id"], True))]


@pytest.mark.slow
def test_the_default_worker_converts_recordings(app, upload, run_worker_burst):
    from webapp.extensions import db
    from webapp.models import MediaAsset
    from webapp.services import backends

    story = upload(("photo.jpg", make_jpeg()), ("voix.m4a", make_audio("m4a", 2.0))).json
    run_worker_burst(app)
    with app.app_context():
        states = {
            m.kind: (m.state, sorted(m.derivatives))
            for m in db.session.scalars(
                db.select(MediaAsset).where(MediaAsset.story_id == story["id"])
            )
        }
        assert backends.queue("recordings").count == 0
    assert states["audio"] == ("ready", ["audio", "peaks", "waveform"])
    assert states["image"][0] == "ready"


@pytest.mark.slow
def test_a_recording_stopped_by_its_time_limit_ends_failed_with_the_reason(
    app, upload, run_worker_burst, monkeypatch
):
    """The worker's give-up path: a job killed for its time limit is not retried; its media
    ends ``failed`` saying so."""
    from webapp.extensions import db
    from webapp.models import MediaAsset

    # Ten seconds of 1080p take the job far longer than its one second to convert; made as
    # MPEG-4 Part 2 (an accepted codec), which this test encodes in 2 s where x264 took 25 s.
    film = make_video(seconds=10.0, width=1920, height=1080, codec="mpeg4")
    story = upload(("film.mov", film)).json
    run_worker_burst(
        app,
        "--queues",
        "recordings",
        PASSAGES_RECORDING_TIMEOUT="1",
        PASSAGES_RECORDING_TIMEOUT_PER_SECOND="0",
    )
    with app.app_context():
        media = db.session.get(MediaAsset, story["media"][0]["id"])
        assert media.state == "failed"
        assert "took longer than" in words(media.failure_reason)


@pytest.mark.slow
def test_a_recording_past_the_memory_cap_fails_cleanly_with_a_reason(app, upload, run_worker_burst):
    """FFmpeg's encoder cannot allocate under the work horse's cap: the job ends, the worker
    lives on, the media is failed (not left pending, not retried) and says why."""
    from webapp.extensions import db
    from webapp.models import MediaAsset

    film = make_video(seconds=1.0, width=1920, height=1080, codec="mpeg4")  # quick to make
    story = upload(("film.mov", film)).json
    run_worker_burst(app, "--queues", "recordings", PASSAGES_JOB_MEMORY_MB="40")
    with app.app_context():
        media = db.session.get(MediaAsset, story["media"][0]["id"])
        assert media.state == "failed"
        assert words(media.failure_reason).startswith("the video could not be converted")
