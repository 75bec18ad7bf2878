"""Class projects: a teacher works with one class on a dossier's documents until a deadline.

Who sees what: a teacher only their own classes' projects (another teacher's project answers
404, like an unknown one); a student only the projects of their own class; archivists list every
project to turn its published responses into a collection. Each student's part is a
``ProjectWork`` row: the document they work on (assigned, or chosen when the teacher lets them),
their group, their guided analysis and the story they wrote in response.

Progress is not stored anywhere: it is read from the response's status in the review workflow
(``progress_of``), so it can never disagree with what the moderation pages show. Sending back
and forwarding stay the workflow's own moves (``webapp.services.review``); this module only
says which stories belong to a project. It adds to the caller's unit of work and never commits.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import gettext

from webapp.errors import BadRequest, Forbidden, NotFound
from webapp.extensions import db
from webapp.models import (
    ClassProject,
    Collection,
    Dossier,
    ProjectWork,
    Role,
    SchoolClass,
    Story,
    StoryResponse,
    StoryStatus,
    User,
    utcnow,
)
from webapp.services import access, audit, classes, dossiers
from webapp.services import collections as collection_service
from webapp.slugs import slugify
from webapp.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

#: The guided analysis, in the spirit of historical criticism (labels are in the templates).
ANALYSIS_KEYS = ("what", "who", "when", "where", "for_whom", "says", "silent", "think")
MAX_ANSWER = 4000
MAX_GROUP_NAME = 60
#: How far ahead a deadline may be set: one school year and a little more.
LONGEST_PROJECT = timedelta(days=400)


class Progress(enum.StrEnum):
    """Where a student is, as the teacher's screen says it."""

    NOT_STARTED = "not_started"
    WRITING = "writing"
    HANDED_IN = "handed_in"
    RETURNED = "returned"
    FORWARDED = "forwarded"
    PUBLISHED = "published"
    NOT_KEPT = "not_kept"


S = StoryStatus
#: The response's workflow status → the student's progress. Every status has its place.
PROGRESS_OF_STATUS: dict[StoryStatus, Progress] = {
    S.DRAFT: Progress.WRITING,
    S.SUBMITTED: Progress.HANDED_IN,
    S.RETURNED: Progress.RETURNED,
    S.CHANGES_REQUESTED: Progress.RETURNED,
    S.IN_REVIEW: Progress.FORWARDED,
    S.APPROVED: Progress.FORWARDED,
    S.PUBLISHED: Progress.PUBLISHED,
    S.REJECTED: Progress.NOT_KEPT,
    S.WITHDRAWN: Progress.NOT_KEPT,
}


def progress_of(story: Story | None, analysis: dict | None = None) -> Progress:
    """A student's progress, from their (or their group's) response and their notes."""
    if story is None:
        return Progress.WRITING if any((analysis or {}).values()) else Progress.NOT_STARTED
    return PROGRESS_OF_STATUS[S(story.status)]


# --- deadlines ---------------------------------------------------------------------------------


def parse_deadline(text: str | None, today: date | None = None) -> date:
    """A deadline typed by a teacher (``YYYY-MM-DD``): today or later, within about a year."""
    today = today or utcnow().date()
    raw = (text or "").strip()
    if not raw:
        raise BadRequest(gettext("give the project a deadline"), field="deadline")
    try:
        deadline = date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(
            gettext(
                "“%(raw)s” is not a date; write it as year-month-day, for example 2027-03-15",
                raw=raw,
            ),
            field="deadline",
        ) from None
    if deadline < today:
        raise BadRequest(gettext("the deadline is already past; choose today or a later day"),
                         field="deadline")  # fmt: skip
    if deadline > today + LONGEST_PROJECT:
        raise BadRequest(gettext("the deadline is more than a year away"), field="deadline")
    return deadline


# --- teachers ----------------------------------------------------------------------------------


def _require_teacher(user: User | None) -> User:
    if user is None or not user.has_role(Role.TEACHER, Role.ADMIN):
        raise Forbidden(gettext("only teachers start class projects"))
    return user


def start_project(
    uow: UnitOfWork,
    teacher: User | None,
    class_id: int,
    dossier_id: int,
    deadline: str,
    *,
    title: str = "",
    instructions: str = "",
    free_choice: bool = False,
) -> ClassProject:
    """A teacher starts a project for one of their classes from a published dossier."""
    teacher = _require_teacher(teacher)
    klass = classes.require_own_class(teacher, class_id)
    dossier = dossiers.get_usable_dossier(dossier_id)
    if not dossiers.public_documents(dossier):
        raise BadRequest(gettext("this dossier has no document to work on yet"), field="dossier_id")
    title = " ".join((title or "").split()) or dossier.title
    if len(title) > 300:
        raise BadRequest(gettext("the title is longer than 300 characters"), field="title")
    project = ClassProject(
        title=title,
        class_id=klass.id,
        dossier_id=dossier.id,
        teacher_id=teacher.id,
        deadline=parse_deadline(deadline),
        instructions=(instructions or "").strip()[: dossiers.MAX_TEXT],
        free_choice=free_choice,
    )
    uow.add(project)
    uow.flush()
    audit.record("project.started", "project", project.id, actor=teacher,
                 details={"class_id": klass.id, "dossier_id": dossier.id})  # fmt: skip
    log.info("project %s started by user %s for class %s", project.id, teacher.id, klass.id)
    return project


def change_project(
    uow: UnitOfWork,
    teacher: User | None,
    project_id: int,
    deadline: str,
    instructions: str,
    free_choice: bool,
) -> ClassProject:
    """Move the deadline, rewrite the instructions, let students choose (or not)."""
    project = get_for_teacher(teacher, project_id)
    project.deadline = parse_deadline(deadline)
    project.instructions = (instructions or "").strip()[: dossiers.MAX_TEXT]
    project.free_choice = free_choice
    audit.record("project.changed", "project", project.id, actor=teacher,
                 details={"deadline": project.deadline.isoformat()})  # fmt: skip
    return project


def projects_of_teacher(teacher: User) -> list[ClassProject]:
    return db.session.scalars(
        db.select(ClassProject)
        .join(SchoolClass, SchoolClass.id == ClassProject.class_id)
        .where(SchoolClass.teacher_id == teacher.id)
        .order_by(ClassProject.deadline.desc(), ClassProject.id.desc())
    ).all()


def get_for_teacher(teacher: User | None, project_id: int) -> ClassProject:
    """The project if it belongs to one of this teacher's classes; otherwise 404."""
    project = db.session.get(ClassProject, project_id)
    if project is None or teacher is None:
        raise NotFound(gettext("no such project"))
    classes.require_own_class(teacher, project.class_id)  # NotFound for another's class
    return project


def _work(project: ClassProject, student: User, *, create: bool) -> ProjectWork | None:
    work = db.session.scalar(
        db.select(ProjectWork).where(
            ProjectWork.project_id == project.id, ProjectWork.student_id == student.id
        )
    )
    if work is None and create:
        work = ProjectWork(project=project, student_id=student.id, analysis={})
        db.session.add(work)
    return work


@dataclass
class Assignment:
    """What the teacher chose for one student (``document_id=None``: the student chooses)."""

    document_id: int | None
    group_name: str = ""


def assign(
    uow: UnitOfWork, teacher: User | None, project_id: int, chosen: dict[int, Assignment]
) -> int:
    """Give students (or groups) their documents; returns how many students changed.

    Students sharing a group name work on one document and write one story together: a group
    given two different documents is refused. A student who already wrote a response keeps
    their document.
    """
    project = get_for_teacher(teacher, project_id)
    students = {s.id: s for s in project.school_class.students}
    documents = {d.id for d in dossiers.public_documents(project.dossier)}
    group_documents: dict[str, int | None] = {}
    for student_id, wanted in chosen.items():
        if student_id not in students:
            raise BadRequest(gettext("this student is not in the class"), field="student_id")
        if wanted.document_id is not None and wanted.document_id not in documents:
            raise BadRequest(gettext("choose one of the dossier's documents"), field="document_id")
        group = " ".join((wanted.group_name or "").split())
        if len(group) > MAX_GROUP_NAME:
            raise BadRequest(gettext("a group name is at most 60 letters"), field="group_name")
        if group:
            key = group.casefold()
            if key in group_documents and group_documents[key] != wanted.document_id:
                raise BadRequest(
                    gettext(
                        "the students of group “%(group)s” must work on the same document",
                        group=group,
                    ),
                    field="group_name",
                )
            group_documents[key] = wanted.document_id
    changed = 0
    for student_id, wanted in chosen.items():
        group = " ".join((wanted.group_name or "").split()) or None
        work = _work(project, students[student_id], create=True)
        if work.document_id == wanted.document_id and work.group_name == group:
            continue
        if work.story_id is not None and work.document_id != wanted.document_id:
            raise BadRequest(
                gettext(
                    "%(name)s has already written about another document; their document stays",
                    name=students[student_id].display_name,
                ),
                field="document_id",
            )
        work.document_id, work.group_name = wanted.document_id, group
        changed += 1
    if changed:
        audit.record("project.assigned", "project", project.id, actor=teacher,
                     details={"students": changed})  # fmt: skip
    return changed


def distribute(uow: UnitOfWork, teacher: User | None, project_id: int) -> int:
    """Give each student still without a document the dossier's documents in turn."""
    project = get_for_teacher(teacher, project_id)
    documents = [d.id for d in dossiers.public_documents(project.dossier)]
    if not documents:
        raise BadRequest(
            gettext("the dossier has no published document left to give"), field="document_id"
        )
    works = {w.student_id: w for w in project.works}
    chosen: dict[int, Assignment] = {}
    turn = 0
    for student in project.school_class.students:
        work = works.get(student.id)
        if work is not None and (work.document_id is not None or work.group_name):
            continue
        chosen[student.id] = Assignment(documents[turn % len(documents)])
        turn += 1
    return assign(uow, teacher, project_id, chosen) if chosen else 0


@dataclass
class StudentRow:
    """One line of the teacher's follow-up screen."""

    student: User
    work: ProjectWork | None
    document: Story | None
    story: Story | None  # the student's response, or their group's
    progress: Progress
    written_by: User | None = None  # who holds the group's story, when not this student


def _group_stories(project: ClassProject) -> dict[str, ProjectWork]:
    """For each group, the work row that holds the group's story."""
    found: dict[str, ProjectWork] = {}
    for work in project.works:
        if work.group_name and work.story_id is not None:
            found.setdefault(work.group_name.casefold(), work)
    return found


def progress_rows(teacher: User | None, project_id: int) -> list[StudentRow]:
    """Every student of the class with their document and progress (one screen)."""
    project = get_for_teacher(teacher, project_id)
    works = {w.student_id: w for w in project.works}
    groups = _group_stories(project)
    rows = []
    for student in project.school_class.students:
        work = works.get(student.id)
        story, written_by = (work.story if work else None), None
        if story is None and work is not None and work.group_name:
            holder = groups.get(work.group_name.casefold())
            if holder is not None:
                story, written_by = holder.story, holder.student
        rows.append(
            StudentRow(
                student=student,
                work=work,
                document=work.document if work else None,
                story=story,
                progress=progress_of(story, work.analysis if work else None),
                written_by=written_by,
            )
        )
    return rows


def count_by_progress(rows: list[StudentRow]) -> dict[Progress, int]:
    counts = {p: 0 for p in Progress}
    for row in rows:
        counts[row.progress] += 1
    return counts


def response_of_project(teacher: User | None, project_id: int, story_id: int) -> Story:
    """A response handed in within this teacher's project (for the follow-up screen's moves)."""
    project = get_for_teacher(teacher, project_id)
    for work in project.works:
        if work.story_id == story_id and work.story is not None:
            return work.story
    raise NotFound(gettext("no such response in this project"))


# --- students ----------------------------------------------------------------------------------


def projects_of_student(student: User) -> list[ClassProject]:
    if student.class_id is None:
        return []
    return db.session.scalars(
        db.select(ClassProject)
        .where(ClassProject.class_id == student.class_id)
        .order_by(ClassProject.deadline, ClassProject.id)
    ).all()


def get_for_student(student: User | None, project_id: int) -> ClassProject:
    """The project if the student's class runs it; otherwise 404."""
    project = db.session.get(ClassProject, project_id)
    if project is None or student is None or student.class_id != project.class_id:
        raise NotFound(gettext("no such project"))
    return project


@dataclass
class Desk:
    """What a student's writing screen shows: the document, their notes, their response."""

    project: ClassProject
    work: ProjectWork | None
    document: Story | None
    choices: list[Story] = field(default_factory=list)
    story: Story | None = None
    group_story: Story | None = None
    group_writer: User | None = None
    progress: Progress = Progress.NOT_STARTED

    @property
    def late(self) -> bool:
        return utcnow().date() > self.project.deadline

    @property
    def can_create(self) -> bool:
        """A new response may be written (nobody in the group has started one)."""
        return self.document is not None and self.story is None and self.group_story is None


def desk(student: User | None, project_id: int) -> Desk:
    project = get_for_student(student, project_id)
    work = _work(project, student, create=False)
    document = work.document if work else None
    if document is not None and not document.is_public:
        document = None  # withdrawn since it was assigned: nothing to show
    choices = []
    if document is None and project.free_choice and (work is None or work.story_id is None):
        choices = dossiers.public_documents(project.dossier)
    group_story = group_writer = None
    if work is not None and work.story is None and work.group_name:
        holder = _group_stories(project).get(work.group_name.casefold())
        if holder is not None:
            group_story, group_writer = holder.story, holder.student
    own = work.story if work else None
    return Desk(
        project=project,
        work=work,
        document=document,
        choices=choices,
        story=own,
        group_story=group_story,
        group_writer=group_writer,
        progress=progress_of(own or group_story, work.analysis if work else None),
    )


def choose_document(
    uow: UnitOfWork, student: User | None, project_id: int, document_id: int
) -> ProjectWork:
    """A student picks a document, when the teacher lets them and none is assigned yet."""
    project = get_for_student(student, project_id)
    work = _work(project, student, create=False)
    if not project.free_choice or (work is not None and work.document_id is not None):
        raise Forbidden(gettext("your teacher gives you your document in this project"))
    if document_id not in {d.id for d in dossiers.public_documents(project.dossier)}:
        raise BadRequest(gettext("choose one of the dossier's documents"), field="document_id")
    work = work or _work(project, student, create=True)
    work.document_id = document_id
    audit.record("project.document_chosen", "project", project.id, actor=student,
                 details={"document_id": document_id})  # fmt: skip
    return work


def save_analysis(
    uow: UnitOfWork, student: User | None, project_id: int, answers: dict[str, str]
) -> ProjectWork:
    """Keep the student's answers to the guided analysis (private to them and their teacher)."""
    project = get_for_student(student, project_id)
    cleaned = {}
    for key in ANALYSIS_KEYS:
        text = (answers.get(key) or "").strip()
        if len(text) > MAX_ANSWER:
            raise BadRequest(
                gettext("an answer is at most %(MAX_ANSWER)s characters", MAX_ANSWER=MAX_ANSWER),
                field=key,
            )
        if text:
            cleaned[key] = text
    work = _work(project, student, create=True)
    if cleaned != (work.analysis or {}):
        work.analysis = cleaned
    return work


def check_can_start(current: Desk) -> None:
    """Refuse a new response when there is no document yet or one is already started."""
    if current.document is None:
        raise BadRequest(gettext("you have no document to write about yet"), field="document_id")
    if current.story is not None or current.group_story is not None:
        raise BadRequest(
            gettext("your response (or your group's) is already started: continue it"),
            field="title",
        )


def record_response(
    uow: UnitOfWork, student: User | None, project_id: int, story: Story
) -> ProjectWork:
    """Attach the story a student just wrote to their part of the project.

    Called in the same unit of work as the submission, so a refusal here (no document yet, a
    response already written by them or their group) leaves no story behind.
    """
    current = desk(student, project_id)
    check_can_start(current)
    if story.submitted_by_id != student.id:
        raise Forbidden(gettext("this is not your story"))
    work = _work(current.project, student, create=True)
    work.story_id = story.id
    audit.record("project.response_started", "project", current.project.id, actor=student,
                 details={"story_id": story.id, "document_id": work.document_id})  # fmt: skip
    return work


# --- archivists --------------------------------------------------------------------------------


@dataclass
class ProjectSummary:
    project: ClassProject
    published: int


def all_projects(actor: User | None) -> list[ProjectSummary]:
    """Every project with its number of published responses (the archivists' screen)."""
    access.require_archivist(actor)
    projects = db.session.scalars(
        db.select(ClassProject).order_by(ClassProject.created_at.desc(), ClassProject.id.desc())
    ).all()
    return [ProjectSummary(p, len(published_responses(p))) for p in projects]


def published_responses(project: ClassProject) -> list[Story]:
    """The project's responses the public may read, oldest first (the order they were written)."""
    return db.session.scalars(
        db.select(Story)
        .join(ProjectWork, ProjectWork.story_id == Story.id)
        .where(ProjectWork.project_id == project.id, Story.is_public)
        .order_by(Story.id)
    ).all()


def _free_slug(base: str) -> str:
    base = slugify(base, max_length=90) or "project"
    slug, n = base, 1
    while db.session.scalar(db.select(Collection.id).where(Collection.slug == slug)) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def make_collection(
    uow: UnitOfWork, actor: User | None, project_id: int, introduction: str
) -> Collection:
    """Turn a project's published responses into a published collection, in one action.

    ``introduction`` is the new collection's text in the archivist's language, with
    ``%(where)s`` (the class and its school) and ``%(dossier)s`` (the dossier's title) filled in
    here. Done again later, it adds the responses published since to the same collection (unless
    the archivist deleted it, then a new one is made).
    """
    access.require_archivist(actor)
    project = db.session.get(ClassProject, project_id)
    if project is None:
        raise NotFound(gettext("no such project"))
    responses = published_responses(project)
    if not responses:
        raise BadRequest(gettext("no response of this project is published yet"))
    collection = project.collection
    if collection is None:
        dossier: Dossier = project.dossier
        klass = project.school_class
        where = f"{klass.name}, {klass.organisation.name}" if klass.organisation else klass.name
        fields = collection_service.CollectionFields(
            title=project.title,
            slug=_free_slug(project.title),
            introduction=introduction % {"where": where, "dossier": dossier.title},
            published=True,
            featured=False,
        )
        collection = collection_service.save_collection(uow, fields, actor)
        project.collection_id = collection.id
    for story in responses:
        collection_service.add_story(uow, collection.id, story.id, actor)
    audit.record("project.collection_made", "project", project.id, actor=actor,
                 details={"collection_id": collection.id, "stories": len(responses)})  # fmt: skip
    return collection


# --- indicators (the département's yearly report) ----------------------------------------------


@dataclass
class DocumentUse:
    """How much one archive document was worked on in class."""

    document: Story
    projects: int
    classes: int
    responses: int  # every story written in response, whatever its state
    published: int


@dataclass
class TeachingIndicators:
    dossiers: int
    projects: int
    classes: int
    documents: list[DocumentUse]


def indicators() -> TeachingIndicators:
    """Projects, classes and responses per document (archivists' indicators page; read only)."""
    uses = {
        document_id: (projects, classes_)
        for document_id, projects, classes_ in db.session.execute(
            db.select(
                ProjectWork.document_id,
                db.func.count(db.distinct(ProjectWork.project_id)),
                db.func.count(db.distinct(ClassProject.class_id)),
            )
            .join(ClassProject, ClassProject.id == ProjectWork.project_id)
            .where(ProjectWork.document_id.is_not(None))
            .group_by(ProjectWork.document_id)
        )
    }
    published = db.case((Story.is_public, 1), else_=0)
    answers = {
        document_id: (total, int(public or 0))
        for document_id, total, public in db.session.execute(
            db.select(
                StoryResponse.document_id,
                db.func.count(StoryResponse.story_id),
                db.func.sum(published),
            )
            .join(Story, Story.id == StoryResponse.story_id)
            .group_by(StoryResponse.document_id)
        )
    }
    wanted = set(uses) | set(answers)
    documents = (
        db.session.scalars(db.select(Story).where(Story.id.in_(wanted))).all() if wanted else []
    )
    rows = [
        DocumentUse(
            document=d,
            projects=uses.get(d.id, (0, 0))[0],
            classes=uses.get(d.id, (0, 0))[1],
            responses=answers.get(d.id, (0, 0))[0],
            published=answers.get(d.id, (0, 0))[1],
        )
        for d in documents
    ]
    rows.sort(key=lambda r: (-r.responses, -r.projects, r.document.title))
    return TeachingIndicators(
        dossiers=db.session.scalar(db.select(db.func.count(Dossier.id))) or 0,
        projects=db.session.scalar(db.select(db.func.count(ClassProject.id))) or 0,
        classes=db.session.scalar(db.select(db.func.count(db.distinct(ClassProject.class_id))))
        or 0,
        documents=rows,
    )
