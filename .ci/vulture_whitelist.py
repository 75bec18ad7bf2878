"""Names vulture reports as unused that are used — each group says by whom.

Read by ``vulture`` (configured in ``pyproject.toml``, run by ``.ci/test``). Only true false
positives belong here: a name that is really unused is deleted, not listed. This file is never
imported.
"""
# ruff: noqa

# Flask-Login reads these attributes of the login manager (webapp/auth.py).
_.login_view
_.login_message
_.session_protection

# Flask reads a response's status code; Python's io protocol calls readable() on stream wrappers.
_.status_code
_.readable

# The storage interface's health check (bucket or folder reachable and writable); both backends
# implement it and tests/storage exercise it.
_.check

# Database columns: written by the services, read by SQL, templates, exports or audits rather than
# by attribute access that vulture can see.
users
last_login_at
last_used_at
invited_by_id
attempts
last_error
actor_id
insee_code
insee
guardian_consent_recorded_by_id
persons_cleared_by_id
guardian_declared_by
original_filename
requester_name
erasure_requested
requested_by_id
handled_by_id
handled_at
# object_claims (set by an INSERT … ON CONFLICT in webapp/operations/claims.py) and check_runs
# (shown by templates/checks/index.html).
claimed_at
claimed_by
started_at
_.last_login_at
_.last_used_at
_.guardian_consent_recorded_by_id
_.persons_cleared_by_id
_.guardian_declared_by
_.handled_by_id
_.handled_at
_.attempts
_.last_error

# Fields of the indicators value object, read by the Jinja template (templates/indicators).
by_status
by_language
by_decade
published_per_month
# A chart's caption, read by templates/curation/indicators.html.
caption

# Alembic calls process_revision_directives(context, revision, directives) with this signature.
revision

# The unit of work's marker on flask.g (read with g.get("passages_uow")).
_.passages_uow

# RQ job functions: enqueued by dotted name from workers/relay.py ROUTES and workers/worker.py.
derive_media
derive_recording
give_up
send_notification
delete_erased_objects
purge_iiif_cache
index_story
rebuild_if_unreadable
build_export
export_gave_up
run_import
import_gave_up
build_exhibition
story_changed
exhibition_gave_up
# Scheduled by dotted name (workers/reconcile.py schedule_next); RQ's scheduler enqueues them.
scheduled_pass
scheduled_prune
scheduled_collect
scheduled_check

# RQ's Job attribute, set by the worker when a job will not be retried.
_.retries_left
# RQ's Job attribute, read by Job.retry(): the long schedule of a job that failed on an outage.
_.retry_intervals

# Read by tests/public (the gazetteer file is the seed of places).
gazetteer_rows

# The map pin's vertical coordinate, read by the SVG template (templates/public/places.html).
y

# Security (webapp/auth.py, webapp/models/accounts.py, webapp/services/throttle.py):
# Flask-Login returns g._login_user as current_user, and calls User.get_id() to fill the session;
# login_throttles.penalty is read and written by the throttle's raw SQL UPDATE … RETURNING.
_._login_user
_.get_id
penalty

# Failed images on the jobs page (templates/jobs/index.html reads them).
story_title
failed_at

# /metrics (webapp/metrics.py): prometheus-client calls a collector's collect(); the request's
# start time is kept on flask.g and read back with g.pop().
_.collect
_.metrics_started

# zipfile.ZipInfo.compress_type, read by ZipFile.open/writestr (webapp/interop/bagit_export.py).
_.compress_type

# The search engine (webapp/search/) overrides Whoosh's own hooks; Whoosh calls them by name.
# schema.py: Format.decode_positions (position decoding of a posting), the FieldType attributes
# and methods Whoosh's writer, query parser and sorting read (vector, analyzer, self_parsing,
# has_morph, separate_spelling, sortable_terms(ixreader, fieldname)).
_.decode_positions
_.vector
_.analyzer
_.self_parsing
_.has_morph
_.separate_spelling
_.sortable_terms
ixreader
# segments.py: W3PostingsWriter's block hooks (_mini_ids, _mini_weights, add_posting),
# W3Codec.postings_writer, the length reader's doc_field_length, SegmentWriter._flush_segment,
# and SegmentWriter._added (read by Whoosh's commit to know the segment is not empty).
_._mini_ids
_._mini_weights
_.add_posting
_.postings_writer
_.doc_field_length
_._flush_segment
_._added
# page_cache.py: the Flask-Caching factory named by its import path in CACHE_TYPE.
_redis_cache

# PyAV reads these attributes of its streams and codec contexts when it opens the encoder or
# decoder (webapp/media/recording.py: threads, pixel format).
_.thread_type
_.thread_count
_.pix_fmt
_.bit_rate

# Flask builds each request from app.request_class (webapp/__init__.py sets webapp.uploads').
_.request_class

# Werkzeug calls Request._get_file_stream (with its own keyword names) for every file part of a
# multipart body (webapp/uploads.py).
_._get_file_stream
total_content_length
content_length

# Transcripts and recorded persons' consent (webapp/models/transcripts.py): who changed them and
# when, kept for the archivist's audit like the story's own consent columns.
updated_by_id
recorded_by_id
recorded_at
_.updated_by_id
_.recorded_by_id
_.recorded_at
