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
