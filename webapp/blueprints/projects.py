"""Class projects: the teacher's follow-up screen, the student's writing screen, and the
archivists' "make a collection of the published responses".

Views only parse forms and render. Who may see which project is ``webapp.services.projects``;
a response is written through the ordinary submission service and moved (sent back, forwarded)
through the review workflow's own ``review.apply`` — nothing here changes a status itself.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from webapp.auth import current_person
from webapp.blueprints.submit import LICENCES, check_descriptions, metadata_from_form
from webapp.errors import Forbidden, PassagesError
from webapp.identifiers import parse_id
from webapp.models import Role, StoryStatus
from webapp.services import (
    access,
    audit,
    classes,
    dossiers,
    editing,
    projects,
    review,
    submissions,
)
from webapp.unit_of_work import unit_of_work

bp = Blueprint("projects", __name__, url_prefix="/projects")

#: The moves the follow-up screen offers on a handed-in response (the workflow decides).
TEACHER_MOVES = ("return", "forward")


def _is_teacher(user) -> bool:
    return user.has_role(Role.TEACHER, Role.ADMIN)


@bp.get("/")
@login_required
def index():
    """Students: their class's projects. Teachers: theirs, and a form to start one.
    Archivists: every project, to make a collection of its published responses."""
    user = current_person()
    if user.is_student:
        return render_template(
            "projects/student_index.html", projects=projects.projects_of_student(user)
        )
    if _is_teacher(user):
        return _teacher_index(user, form={})
    if user.is_staff:
        return render_template("projects/staff_index.html", summaries=projects.all_projects(user))
    raise Forbidden(_("Class projects are for teachers, their students and archivists."))


def _teacher_index(teacher, form, status: int = 200):
    page = render_template(
        "projects/teacher_index.html",
        projects=projects.projects_of_teacher(teacher),
        classes=classes.classes_of(teacher),
        dossiers=dossiers.public_dossiers(),
        form=form,
    )
    return page, status


@bp.post("/")
@login_required
def start():
    teacher = current_person()
    form = request.form
    try:
        with unit_of_work() as uow:
            project = projects.start_project(
                uow,
                teacher,
                parse_id(form.get("class_id")) or 0,
                parse_id(form.get("dossier_id")) or 0,
                form.get("deadline", ""),
                title=form.get("title", ""),
                instructions=form.get("instructions", ""),
                free_choice=form.get("free_choice") == "yes",
            )
    except PassagesError as exc:
        flash(exc.message, "error")
        if not _is_teacher(teacher):
            raise
        return _teacher_index(teacher, form=form, status=exc.status)
    flash(_("Project started. Give each student a document below."), "success")
    return redirect(url_for("projects.show", project_id=project.id), code=303)


@bp.get("/<int:project_id>")
@login_required
def show(project_id: int):
    """The teacher's one screen: every student, their document and where they are."""
    user = current_person()
    if user.is_student:
        return redirect(url_for("projects.write", project_id=project_id))
    project = projects.get_for_teacher(user, project_id)
    rows = projects.progress_rows(user, project_id)
    return render_template(
        "projects/show.html",
        project=project,
        rows=rows,
        counts=projects.count_by_progress(rows),
        documents=dossiers.public_documents(project.dossier),
        moves={
            row.story.id: [
                a for a in review.possible_actions(row.story, user) if a in TEACHER_MOVES
            ]
            for row in rows
            if row.story is not None and row.written_by is None
        },
        progress=projects.Progress,
    )


@bp.post("/<int:project_id>/settings")
@login_required
def settings(project_id: int):
    form = request.form
    try:
        with unit_of_work() as uow:
            projects.change_project(
                uow,
                current_person(),
                project_id,
                form.get("deadline", ""),
                form.get("instructions", ""),
                form.get("free_choice") == "yes",
            )
        flash(_("Project saved."), "success")
    except PassagesError as exc:
        flash(exc.message, "error")
    return redirect(url_for("projects.show", project_id=project_id), code=303)


@bp.post("/<int:project_id>/assignments")
@login_required
def assignments(project_id: int):
    """One row per student: a document (or "chooses"), and a group name (optional)."""
    chosen: dict[int, projects.Assignment] = {}
    for key, value in request.form.items():
        if not key.startswith("document-"):
            continue
        student_id = parse_id(key.removeprefix("document-"))
        if student_id is None:
            continue
        chosen[student_id] = projects.Assignment(
            document_id=parse_id(value), group_name=request.form.get(f"group-{student_id}", "")
        )
    try:
        with unit_of_work() as uow:
            if request.form.get("distribute") == "yes":
                changed = projects.distribute(uow, current_person(), project_id)
            else:
                changed = projects.assign(uow, current_person(), project_id, chosen)
        flash(_("Documents given: %(count)s change(s).", count=changed), "success")
    except PassagesError as exc:
        flash(exc.message, "error")
    return redirect(url_for("projects.show", project_id=project_id) + "#students", code=303)


@bp.post("/<int:project_id>/responses/<int:story_id>")
@login_required
def move_response(project_id: int, story_id: int):
    """Send a response back with comments, or forward it to the archive: the workflow's moves."""
    teacher = current_person()
    action = request.form.get("decision", "")
    try:
        projects.response_of_project(teacher, project_id, story_id)
        if action not in TEACHER_MOVES:
            raise Forbidden(_("Choose to send the story back or to forward it."))
        with unit_of_work() as uow:
            review.apply(uow, story_id, action, teacher, request.form.get("note") or None)
        flash(
            _("Sent back to the student with your comments.")
            if action == "return"
            else _("Forwarded to the archive."),
            "success",
        )
    except PassagesError as exc:
        flash(exc.message, "error")
    return redirect(url_for("projects.show", project_id=project_id) + "#students", code=303)


# --- students ----------------------------------------------------------------------------------


def _desk_page(project_id: int, form=None, status: int = 200):
    student = current_person()
    desk = projects.desk(student, project_id)
    own = desk.story
    if form is None:
        notes = (desk.work.analysis or {}) if desk.work else {}
        form = {f"analysis_{k}": v for k, v in notes.items()}
        if own is not None:
            form.update(title=own.title, body=own.body)
    page = render_template(
        "projects/write.html",
        desk=desk,
        form=form,
        questions=dossiers.questions_of(desk.project.dossier),
        analysis_keys=projects.ANALYSIS_KEYS,
        licences=LICENCES,
        editable=own is not None and own.status in editing.AUTHOR_EDITABLE,
        is_draft=own is not None and own.status == StoryStatus.DRAFT.value,
        comments=audit.feedback_for_author(own.id) if own is not None else [],
        progress=projects.Progress,
    )
    return page, status


@bp.get("/<int:project_id>/write")
@login_required
def write(project_id: int):
    """The student's screen: the document large, the guided analysis, then their story."""
    return _desk_page(project_id)


@bp.post("/<int:project_id>/choose")
@login_required
def choose(project_id: int):
    try:
        with unit_of_work() as uow:
            projects.choose_document(
                uow, current_person(), project_id, parse_id(request.form.get("document_id")) or 0
            )
    except PassagesError as exc:
        flash(exc.message, "error")
    return redirect(url_for("projects.write", project_id=project_id), code=303)


@bp.post("/<int:project_id>/write")
@login_required
def save(project_id: int):
    """Keep the notes; write, save or hand in the response — one action, one transaction."""
    student = current_person()
    action = request.form.get("action", "notes")
    answers = {k: request.form.get(f"analysis_{k}", "") for k in projects.ANALYSIS_KEYS}
    images = [
        submissions.IncomingImage(filename=f.filename or "", stream=f.stream)
        for f in request.files.getlist("images")
        if f.filename
    ]
    try:
        with unit_of_work() as uow:
            projects.save_analysis(uow, student, project_id, answers)
            desk = projects.desk(student, project_id)
            if action in ("draft", "hand_in") and desk.story is None:
                projects.check_can_start(desk)
                check_descriptions(images, request.form)
                metadata = metadata_from_form(request.form)
                metadata["responds_to"] = [desk.document.id]
                story = submissions.submit_story(
                    uow,
                    metadata,
                    images,
                    submitter=student,
                    as_draft=action == "draft",
                )
                projects.record_response(uow, student, project_id, story)
            elif action in ("draft", "hand_in"):
                story = desk.story
                if story.status in editing.AUTHOR_EDITABLE:
                    changes = {k: request.form[k] for k in ("title", "body") if k in request.form}
                    editing.edit_metadata(uow, story.id, changes, student)
                if action == "hand_in":
                    move = "submit" if story.status == StoryStatus.DRAFT.value else "resubmit"
                    review.apply(uow, story.id, move, student)
    except PassagesError as exc:
        flash(exc.message, "error")
        for detail in getattr(exc, "errors", [])[1:]:
            flash(detail.message, "error")
        return _desk_page(project_id, form=request.form, status=exc.status)
    flash(
        {
            "hand_in": _("Your story is handed in to your teacher."),
            "draft": _("Saved. You can come back to it later."),
        }.get(action, _("Your notes are saved.")),
        "success",
    )
    return redirect(url_for("projects.write", project_id=project_id), code=303)


# --- archivists --------------------------------------------------------------------------------


@bp.post("/<int:project_id>/collection")
@login_required
def make_collection(project_id: int):
    """One action: the project's published responses become a published collection."""
    actor = access.require_archivist(current_person())
    try:
        with unit_of_work() as uow:
            collection = projects.make_collection(
                uow,
                actor,
                project_id,
                # Filled in by the service: the class and school, the dossier's title.
                _(
                    "Written by the students of %(where)s, in response to the archive documents "
                    "of the dossier “%(dossier)s”."
                ),
            )
    except PassagesError as exc:
        flash(exc.message, "error")
        return redirect(url_for("projects.index"), code=303)
    flash(_("The collection “%(title)s” holds the published responses.", title=collection.title),
          "success")  # fmt: skip
    return redirect(url_for("curation.edit_collection", collection_id=collection.id), code=303)
