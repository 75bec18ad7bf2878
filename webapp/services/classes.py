"""Classes of students: a teacher creates one, students join with its short code and a pseudonym.

No e-mail address and no surname is ever asked of a student. On joining, a student receives a
personal access code (shown once, kept only as a hash) to log in again from another computer; the
teacher can issue a new one when it is lost. This module must never reveal an access code after
it was shown, nor let a teacher act on another teacher's class, nor commit (the caller's unit
of work does).
"""

from __future__ import annotations

import logging
import secrets
import unicodedata
from dataclasses import dataclass

from flask_babel import gettext

from webapp.errors import BadRequest, Forbidden, NotFound
from webapp.extensions import db
from webapp.models import Role, SchoolClass, User
from webapp.services import accounts, audit
from webapp.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

#: No 0/O, 1/I/L: codes are copied from a board by children.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CLASS_CODE_LENGTH = 6
MAX_PSEUDONYM = 40


@dataclass(frozen=True)
class StudentAccess:
    """What a student (or their teacher) must write down: shown once, never stored in clear."""

    student: User
    class_code: str
    pseudonym: str
    access_code: str


def _random_code(length: int) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def new_access_code() -> str:
    raw = _random_code(8)
    return f"{raw[:4]}-{raw[4:]}"


def normalise_code(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def normalise_access_code(code: str) -> str:
    raw = normalise_code(code)
    return f"{raw[:4]}-{raw[4:]}" if len(raw) == 8 else raw


def clean_pseudonym(name: str) -> str:
    name = " ".join(unicodedata.normalize("NFC", name or "").split())
    if not name:
        raise BadRequest(gettext("write your first name or a pseudonym"), field="pseudonym")
    if len(name) > MAX_PSEUDONYM:
        raise BadRequest(
            f"the name is too long (at most {MAX_PSEUDONYM} letters)", field="pseudonym"
        )
    if "@" in name:
        raise BadRequest(
            gettext("no e-mail address please: a first name or pseudonym is enough"),
            field="pseudonym",
        )
    return name


def create_class(uow: UnitOfWork, teacher: User | None, name: str) -> SchoolClass:
    if teacher is None or not teacher.has_role(Role.TEACHER, Role.ADMIN):
        raise Forbidden(gettext("only teachers can create a class"))
    name = " ".join((name or "").split())
    if not name:
        raise BadRequest(gettext("give the class a name (for example: 4e B, 2026)"), field="name")
    while True:
        code = _random_code(CLASS_CODE_LENGTH)
        if db.session.scalar(db.select(SchoolClass.id).where(SchoolClass.code == code)) is None:
            break
    klass = SchoolClass(
        name=name[:120], code=code, teacher_id=teacher.id, organisation_id=teacher.organisation_id
    )
    uow.add(klass)
    uow.flush()
    audit.record("class.created", "class", klass.id, actor=teacher, details={"name": klass.name})
    log.info("class %s created by user %s", klass.id, teacher.id)
    return klass


def find_by_code(code: str) -> SchoolClass | None:
    return db.session.scalar(db.select(SchoolClass).where(SchoolClass.code == normalise_code(code)))


def _find_student(klass: SchoolClass, pseudonym: str) -> User | None:
    wanted = pseudonym.casefold()
    return next((s for s in klass.students if s.display_name.casefold() == wanted), None)


def join_class(uow: UnitOfWork, code: str, pseudonym: str) -> StudentAccess:
    """A student joins with the class code and a first name or pseudonym only."""
    klass = find_by_code(code)
    if klass is None or not klass.open_for_joining:
        raise NotFound(
            gettext(
                "this class code does not exist or the class is closed; check it with your teacher"
            )
        )
    pseudonym = clean_pseudonym(pseudonym)
    if _find_student(klass, pseudonym) is not None:
        raise BadRequest(
            f"someone in this class already uses the name “{pseudonym}”; add a letter or a number",
            field="pseudonym",
        )
    access_code = new_access_code()
    student = User(
        email=None,
        display_name=pseudonym,
        role=Role.CONTRIBUTOR.value,
        organisation_id=klass.organisation_id,
        class_id=klass.id,
    )
    student.set_password(access_code)
    uow.add(student)
    uow.flush()
    audit.record("class.joined", "user", student.id, actor=student, details={"class_id": klass.id})
    return StudentAccess(student, klass.code, pseudonym, access_code)


def student_login(code: str, pseudonym: str, access_code: str) -> User:
    """Check a student's three words; the same lockout as any account applies."""
    klass = find_by_code(code)
    student = _find_student(klass, " ".join((pseudonym or "").split())) if klass else None
    return accounts.check_credentials(student, normalise_access_code(access_code))


def require_own_class(teacher: User | None, class_id: int) -> SchoolClass:
    klass = db.session.get(SchoolClass, class_id)
    if klass is None or teacher is None:
        raise NotFound(gettext("no such class"))
    if klass.teacher_id != teacher.id and not teacher.has_role(Role.ADMIN):
        raise NotFound(gettext("no such class"))  # another teacher's class: same answer as unknown
    return klass


def classes_of(teacher: User) -> list[SchoolClass]:
    return db.session.scalars(
        db.select(SchoolClass)
        .where(SchoolClass.teacher_id == teacher.id)
        .order_by(SchoolClass.name)
    ).all()


def reset_student_access(uow: UnitOfWork, teacher: User | None, student_id: int) -> StudentAccess:
    """The teacher gives a student a new access code (the old one stops working)."""
    student = db.session.get(User, student_id)
    if student is None or student.class_id is None:
        raise NotFound(gettext("no such student"))
    klass = require_own_class(teacher, student.class_id)
    access_code = new_access_code()
    student.set_password(access_code)
    student.active = True
    audit.record("student.access_reset", "user", student.id, actor=teacher)
    return StudentAccess(student, klass.code, student.display_name, access_code)


def set_joining(uow: UnitOfWork, teacher: User | None, class_id: int, open_: bool) -> SchoolClass:
    klass = require_own_class(teacher, class_id)
    klass.open_for_joining = open_
    audit.record("class.opened" if open_ else "class.closed", "class", klass.id, actor=teacher)
    return klass
