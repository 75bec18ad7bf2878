"""The one table of words people read for the values we store: statuses, states, kinds, roles.

The database, the API and the events keep the stable English codes (``in_review``,
``not_required``, ``pending``); people read these labels, in the interface language. Every
template, e-mail, CSV and screen that shows such a value to a person asks :func:`label` (in
templates: ``{{ story.status|label('status') }}``), so a status is called the same everywhere
and is translated once. Never build a label from the code (``status.replace('_', ' ')``): that
shows English in the French interface.

Labels are lazy (``lazy_gettext`` and ``lazy_pgettext``, imported as ``_`` and ``pgettext``
so that ``pybabel extract`` finds them with its default keywords): the table is built at import
time, each label is translated when it is shown, in the language of the request that shows it.
This module holds words only; it never decides what a status means (``services/review.py``
does).
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import LazyString
from flask_babel import lazy_gettext as _  # lazy: see the module docstring
from flask_babel import lazy_pgettext as pgettext

from webapp.models.base import GuardianConsent, MediaState, OrganisationKind, Role, StoryStatus

#: A story's status (``Story.status``).
STORY_STATUS: dict[str, LazyString] = {
    StoryStatus.DRAFT: _("draft"),
    StoryStatus.SUBMITTED: _("submitted"),
    StoryStatus.RETURNED: _("returned to the student"),
    StoryStatus.IN_REVIEW: _("in review"),
    StoryStatus.CHANGES_REQUESTED: _("changes requested"),
    StoryStatus.APPROVED: _("approved"),
    StoryStatus.PUBLISHED: _("published"),
    StoryStatus.REJECTED: _("rejected"),
    StoryStatus.WITHDRAWN: _("withdrawn"),
}

#: Where a parent's or guardian's consent stands (``Story.guardian_consent``).
GUARDIAN_CONSENT: dict[str, LazyString] = {
    GuardianConsent.NOT_REQUIRED: _("not required"),
    GuardianConsent.PENDING: _("awaited"),
    GuardianConsent.RECEIVED: _("received"),
}

#: An image's processing state (``MediaAsset.state``).
MEDIA_STATE: dict[str, LazyString] = {
    MediaState.PENDING: pgettext("media state", "being prepared"),
    MediaState.READY: pgettext("media state", "ready"),
    MediaState.FAILED: pgettext("media state", "failed"),
}

#: What an organisation is (``Organisation.kind``).
ORGANISATION_KIND: dict[str, LazyString] = {
    OrganisationKind.SCHOOL: _("school"),
    OrganisationKind.ASSOCIATION: _("association"),
    OrganisationKind.ARCHIVE: _("archive service"),
}

#: What a person may do (``User.role``).
ROLE: dict[str, LazyString] = {
    Role.CONTRIBUTOR: _("contributor"),
    Role.TEACHER: _("teacher"),
    Role.ARCHIVIST: _("archivist"),
    Role.ADMIN: _("administrator"),
}

#: The moves of the story workflow (``review.TRANSITIONS``), as buttons and in messages.
ACTION: dict[str, LazyString] = {
    "submit": _("Hand in"),
    "recall": _("Take back as a draft"),
    "return": _("Return to the student with comments"),
    "resubmit": _("Hand in again"),
    "forward": _("Forward to the archive"),
    "start_review": _("Start the archive review"),
    "request_changes": _("Ask for changes"),
    "approve": _("Approve"),
    "publish": _("Publish"),
    "reject": _("Reject"),
    "withdraw": _("Withdraw"),
    "consent_withdrawn": _("Back to review: consent withdrawn"),
}

#: A story's history (audit entries ``story.*``) beyond the workflow's moves.
HISTORY: dict[str, LazyString] = {
    "story.submitted": _("submitted"),
    "story.draft_saved": _("saved as a draft"),
    "story.submit": _("submitted"),
    "story.recall": _("taken back as a draft"),
    "story.return": _("returned to the student"),
    "story.resubmit": _("submitted again"),
    "story.forward": _("forwarded to the archive"),
    "story.start_review": _("archive review started"),
    "story.request_changes": _("changes requested"),
    "story.approve": _("approved"),
    "story.publish": _("published"),
    "story.reject": _("rejected"),
    "story.withdraw": _("withdrawn"),
    "story.guardian_consent": _("guardian consent recorded"),
    "story.persons_flagged": _("marked: people can be recognised"),
    "story.persons_cleared": _("checked: the people shown agree"),
    "story.metadata_edited": _("description edited"),
    "media.rights_edited": _("image rights edited"),
    "story.images_described": _("images described"),
    "story.released_from_quarantine": _("released from quarantine"),
    "story.imported": _("imported"),
    "story.transcript.attached": _("transcript of a recording added"),
    "story.transcript.removed": _("transcript of a recording removed"),
    "story.index_points.saved": _("index points of a recording saved"),
    "story.recording_consent": _("consent of the person recorded noted"),
    "story.consent_withdrawn": _(
        "taken out of public view: a person recorded withdrew consent; back in archive review"
    ),
}

#: An export's progress (``ExportRun.state``).
EXPORT_STATE: dict[str, LazyString] = {
    "requested": _("waiting for a worker"),
    "running": _("being written"),
    "ready": _("ready"),
    "failed": _("failed"),
    "deleted": _("deleted"),
}

#: An import's progress (``ImportRun.state``).
IMPORT_STATE: dict[str, LazyString] = {
    "uploaded": _("uploaded"),
    "checking": _("being checked"),
    "invalid": _("problems to correct"),
    "checked": _("checked, ready to import"),
    "importing": _("being imported"),
    "done": _("done"),
    "failed": _("failed"),
}

#: Why a background job could not do its work (``MediaAsset.failure_reason``, and the ``error``
#: of exports, imports and exhibitions). Workers store the code, with its parameters, through
#: ``webapp.reasons``; people read these words, filled in with the parameters, in the interface
#: language. The English is also what the older rows said, word for word: ``webapp.reasons``
#: recognises an old sentence by these patterns and shows it translated.
REASON: dict[str, LazyString] = {
    # An image that cannot be read (``webapp.media.imaging``).
    "empty_file": _("the file is empty"),
    "unreadable_file": _("the file could not be read (%(detail)s)"),
    "heic_unsupported": _(
        "unsupported format: HEIC (this server cannot read iPhone HEIC photos; export the photo "
        "as JPEG and upload it again)"
    ),
    "unsupported_format": _("unsupported format: %(format)s"),
    "camera_raw": _("unsupported format: camera RAW (%(format)s)"),
    "raw_or_preview_tiff": _("unsupported format: camera RAW or preview-only TIFF"),
    "video_container": _("unsupported format: video or other MP4/QuickTime file"),
    "text_file": _("unsupported format: text file"),
    "not_an_image": _("unsupported format: not a recognised image file"),
    "bad_header": _("the image is damaged or incomplete (unreadable %(format)s header)"),
    "no_pixels": _("the image is damaged or incomplete (it declares no pixels)"),
    "truncated": _("the image is damaged or incomplete (truncated %(format)s data)"),
    "corrupt": _("the image is damaged or incomplete (corrupt %(format)s data)"),
    "image_too_large": _(
        "image too large: %(width)s×%(height)s pixels, the limit is %(limit)s megapixels"
    ),
    "image_memory": _("the image needs more memory than a worker may use"),
    "image_memory_on_demand": _("the image needs more memory than may be used on demand"),
    "region_too_large": _(
        "cutting this region needs %(width)s×%(height)s decoded pixels; at most %(limit)s "
        "megapixels are decoded on demand"
    ),
    "image_unprocessable": _("the image could not be processed (%(detail)s)"),
    # A recording that cannot be read or converted (``webapp.media.recording``).
    "not_a_recording": _("not an audio or video file (%(detail)s)"),
    "unreadable_recording": _("not an audio or video file we can read (%(detail)s)"),
    "recording_memory_on_demand": _("the recording needs more memory than may be used"),
    "container_refused": _("the %(format)s format is not accepted"),
    "no_sound_no_picture": _("the file holds neither sound nor pictures"),
    "video_codec_refused": _("the video codec %(codec)s is not accepted"),
    "audio_codec_refused": _("the audio codec %(codec)s is not accepted"),
    "empty_recording": _("the recording is empty (no duration could be read)"),
    "recording_too_long": _("the recording lasts %(duration)s, the limit is %(limit)s"),
    "audio_undecodable": _("the audio track could not be decoded"),
    "video_undecodable": _("the video track could not be decoded"),
    "no_sound_track": _("the recording has no sound track"),
    "recording_memory": _("the recording needs more memory than a worker may use"),
    "recording_unconvertible": _("the recording could not be converted (%(detail)s)"),
    "video_memory": _("the video needs more memory than a worker may use"),
    "video_unconvertible": _("the video could not be converted (%(detail)s)"),
    "no_picture_track": _("the video has no picture track"),
    "no_decodable_picture": _("the video has no picture that could be decoded"),
    "no_still_frame": _("no still frame could be taken from the video"),
    "poster_failed": _("the poster could not be made (%(cause)s)"),
    # The job itself (``workers``).
    "fixity": _("the stored original does not match its checksum (fixity error)"),
    "job_memory": _("processing needed more than the %(mb)s MB a job may use"),
    "job_timeout": _("processing took longer than the time a job may run"),
    "job_timeout_after": _("processing took longer than the %(seconds)s s a job may run"),
    "job_killed": _("the job's process was killed while working (%(detail)s)"),
    "gave_up": _("gave up after repeated failures: %(detail)s"),
    "image_unexpected": _("this image could not be processed (%(detail)s)"),
    "collection_not_found": _("no collection with the slug %(slug)s"),
    "failed": _("processing failed (%(detail)s)"),
    # A stored code this version cannot word (``webapp.reasons.UNWORDED``).
    "processing_failed": _("processing failed"),
    # The search index rebuild (``workers.search``, ``webapp.operations.long_jobs``).
    "stopped_answering": _(
        "stopped answering: no news for more than %(minutes)s minutes (its process was "
        "stopped or the machine restarted); start it again"
    ),
    "rebuild_error": _("the rebuild stopped on an error (%(detail)s)"),
}

#: Where a long job stands (``webapp.operations.long_jobs``), whatever its kind.
LONG_JOB_STATE: dict[str, LazyString] = {
    "waiting": pgettext("long job", "waiting"),
    "running": pgettext("long job", "in progress"),
    "done": pgettext("long job", "finished"),
    "failed": pgettext("long job", "failed"),
}

#: What a long job does (``LongJob.kind``).
LONG_JOB_KIND: dict[str, LazyString] = {
    "reindex": _("Rebuilding the search index"),
    "rederive": _("Deriving images again"),
    "export": _("Export"),
    "import": _("Import"),
    "exhibition": _("Exhibition to print"),
}

#: A licence (``Story.licence``, ``MediaAsset.licence``; codes from ``webapp.licences``), in
#: the schema's order. Creative Commons names its licences in each language; these follow its
#: French deeds.
LICENCE: dict[str, LazyString] = {
    "CC-BY-4.0": _("Creative Commons Attribution (CC BY 4.0)"),
    "CC-BY-SA-4.0": _("Creative Commons Attribution-ShareAlike (CC BY-SA 4.0)"),
    "CC-BY-NC-4.0": _("Creative Commons Attribution-NonCommercial (CC BY-NC 4.0)"),
    "CC-BY-NC-SA-4.0": _("Creative Commons Attribution-NonCommercial-ShareAlike (CC BY-NC-SA 4.0)"),
    "CC0-1.0": _("Public domain (CC0)"),
    "all-rights-reserved": _("All rights reserved"),
}

#: A story's described fields, as named in "Changed: …" messages and forms.
FIELD: dict[str, LazyString] = {
    "title": _("title"),
    "body": _("text"),
    "places": _("places"),
    "period": _("period"),
    "themes": _("themes"),
    "licence": _("licence"),
    "credit": _("credit line"),
    "language": _("language"),
}

#: Every table by the name templates use: ``{{ value|label('status') }}``.
TABLES: dict[str, Mapping[str, LazyString]] = {
    "status": STORY_STATUS,
    "consent": GUARDIAN_CONSENT,
    "media": MEDIA_STATE,
    "kind": ORGANISATION_KIND,
    "role": ROLE,
    "action": ACTION,
    "history": HISTORY,
    "export": EXPORT_STATE,
    "import": IMPORT_STATE,
    "field": FIELD,
    "licence": LICENCE,
    "reason": REASON,
    "long_job": LONG_JOB_STATE,
    "long_job_kind": LONG_JOB_KIND,
}


def label(value: object, table: str) -> str:
    """The words for ``value`` in ``table`` (see :data:`TABLES`), in the interface language.

    A value the table does not know (a state added later, a row from an older version) is shown
    as stored rather than hidden: a person can still report it, and the pseudo-locale test
    names it so that it gets its label.
    """
    if value is None:
        return ""
    words = TABLES[table].get(str(value))
    return str(words) if words is not None else str(value)
