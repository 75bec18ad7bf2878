"""Demo content for ``passages run --demo``: organisations, logins, a few stories with images,
archive documents with their provenance and a story that responds to one of them.

The images are drawn here with Pillow (no third-party photographs, so no licence question). The
stories go through the real submission and review services, so the demo exercises the same path
as a real class. Loading twice changes nothing.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw

from webapp.extensions import db
from webapp.models import Organisation, OrganisationKind, Role, Story, User
from webapp.services import review, submissions
from webapp.services.accounts import create_or_update_user
from webapp.unit_of_work import UnitOfWork, unit_of_work

DEMO_LOGINS = [
    ("admin", "admin@passages.example", "demo-admin-2026"),
    ("archivist", "archiviste@passages.example", "demo-archives-2026"),
    ("teacher", "professeure@passages.example", "demo-college-2026"),
    ("contributor", "association@passages.example", "demo-asso-2026"),
]

DEMO_STORIES = [
    {
        "title": "Le marché de Vitry",
        "body": (
            "Ma grand-mère est arrivée d'Oran en 1962. Chaque samedi, elle tenait un étal "
            "d'épices au marché de Vitry-sur-Seine, à côté d'un marchand portugais.\n\n"
            "Elle disait que l'odeur du cumin lui rappelait la maison."
        ),
        "language": "fr",
        "places": ["Vitry-sur-Seine", "Oran"],
        "period": "1962",
        "themes": ["travail", "marché"],
        "publish": True,
    },
    {
        "title": "حكاية جدي في مصنع السيارات",
        "body": "وصل جدي إلى سان دوني سنة ١٩٦٨ وعمل في مصنع السيارات ثلاثين سنة.",
        "language": "ar",
        "places": ["Saint-Denis"],
        "period": "1960s",
        "themes": ["travail", "usine"],
        "publish": True,
    },
    {
        "title": "A school in Ivry",
        "body": (
            "In 1975 my mother started at the école Barbusse in Ivry-sur-Seine. She spoke "
            "Portuguese at home and French at school, and translated letters for the neighbours."
        ),
        "language": "en",
        "places": ["Ivry-sur-Seine"],
        "period": "1970-1979",
        "themes": ["école", "langues"],
        "publish": True,
    },
    {
        "title": "Le foyer de la rue des Postes",
        "body": "Souvenirs du foyer de travailleurs, en attente de relecture par les archives.",
        "language": "fr",
        "places": ["Champigny-sur-Marne"],
        "period": "~1980",
        "themes": ["logement"],
        "publish": False,
    },
]


#: Archive documents an archivist publishes, with their provenance (invented call numbers).
DEMO_DOCUMENTS = [
    {
        "title": "Lettre d'une famille demandant un relogement",
        "body": (
            "Lettre manuscrite adressée au préfet par un père de famille logé au bidonville de "
            "Champigny, demandant un logement pour sa femme et leurs cinq enfants."
        ),
        "language": "fr",
        "places": ["Champigny-sur-Marne"],
        "period": "~1964",
        "themes": ["logement", "bidonville"],
        "source": {
            "institution": "Archives départementales du Val-de-Marne (démo)",
            "reference": "2 W 145",
            "fonds": "Préfecture, service des affaires sociales",
            "producer": "Un habitant du bidonville",
        },
    },
    {
        "title": "Affiche du bal de l'Amicale, Champigny",
        "body": "Affiche imprimée annonçant le bal annuel d'une amicale de travailleurs.",
        "language": "fr",
        "places": ["Champigny-sur-Marne"],
        "period": "1968",
        "themes": ["fête", "associations"],
        "source": {
            "institution": "Archives départementales du Val-de-Marne (démo)",
            "reference": "12 Fi 3",
            "producer": "Amicale des travailleurs (démo)",
        },
    },
    {
        "title": "Page du registre d'inscription de l'école Barbusse",
        "body": "Une page du registre d'inscription des élèves, rentrée 1975.",
        "language": "fr",
        "places": ["Ivry-sur-Seine"],
        "period": "1975-09",
        "themes": ["école"],
        "source": {
            "institution": "Archives municipales d'Ivry-sur-Seine (démo)",
            "reference": "1 R 27",
            "fonds": "Écoles primaires",
        },
    },
]

#: A story written in response to the first document (published, so its page shows both).
DEMO_RESPONSE = {
    "title": "Ce que la lettre ne dit pas",
    "body": (
        "La lettre parle des enfants et du froid, mais pas du travail du père. En classe, nous "
        "avons imaginé ce qu'il n'osait pas écrire au préfet."
    ),
    "language": "fr",
    "places": ["Champigny-sur-Marne"],
    "period": "1964",
    "themes": ["logement"],
}


def demo_document_picture(seed: int, size: tuple[int, int] = (1200, 1600)) -> bytes:
    """A scanned-page-like JPEG: yellowed paper, a heading and lines of "writing"."""
    rng = random.Random(1000 + seed)
    width, height = size
    image = Image.new("RGB", size, (236 - seed * 5, 226 - seed * 3, 196))
    draw = ImageDraw.Draw(image)
    margin = width // 10
    draw.rectangle([margin, margin, width - margin, margin + 60], fill=(70, 60, 50))
    y = margin + 140
    while y < height - margin:
        end = rng.randint(width // 2, width - margin)
        draw.line([margin, y, end, y], fill=(60, 50, 90), width=5)
        y += rng.randint(40, 56)
    noise = Image.effect_noise(size, 25).convert("RGB")
    image = Image.blend(image, noise, 0.06)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


def demo_picture(seed: int, size: tuple[int, int] = (1600, 1200)) -> bytes:
    """A photo-like JPEG: sky gradient, a street of houses, some noise."""
    rng = random.Random(seed)
    width, height = size
    sky_top = (rng.randint(60, 120), rng.randint(120, 170), rng.randint(190, 240))
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    image = Image.blend(image, Image.new("RGB", size, sky_top), 0.7)
    draw = ImageDraw.Draw(image)
    ground = int(height * 0.65)
    draw.rectangle([0, ground, width, height], fill=(90 + seed * 7 % 60, 85, 70))
    x = 0
    while x < width:
        w = rng.randint(width // 10, width // 5)
        h = rng.randint(height // 6, height // 2)
        colour = (rng.randint(120, 230), rng.randint(100, 200), rng.randint(80, 180))
        draw.rectangle([x, ground - h, x + w - 8, ground], fill=colour)
        for wx in range(x + 12, x + w - 30, 40):
            for wy in range(ground - h + 15, ground - 30, 50):
                draw.rectangle([wx, wy, wx + 18, wy + 26], fill=(40, 50, 70))
        x += w
    noise = Image.effect_noise(size, 18).convert("RGB")
    image = Image.blend(image, noise, 0.08)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


DEMO_CLASS_NAME = "4e B (démo)"


def demo_class_code() -> str:
    """The demo teacher's class code (students join at /join with it and a first name)."""
    from webapp.models import SchoolClass
    from webapp.services.classes import create_class

    klass = db.session.scalar(db.select(SchoolClass).where(SchoolClass.name == DEMO_CLASS_NAME))
    if klass is None:
        teacher = db.session.scalar(db.select(User).where(User.email == DEMO_LOGINS[2][1]))
        with unit_of_work() as uow:
            klass = create_class(uow, teacher, DEMO_CLASS_NAME)
    return klass.code


def load_demo() -> list[tuple[str, str, str]]:
    """Create demo people and stories unless they exist; return (role, e-mail, password).

    The people are one unit of work, then each story (handed in and, for some, published) is one.
    """
    with unit_of_work() as uow:
        archive = _organisation(uow, "Archives départementales (démo)", OrganisationKind.ARCHIVE)
        school = _organisation(uow, "Collège Henri-Barbusse (démo)", OrganisationKind.SCHOOL)
        association = _organisation(
            uow, "Association Mémoires vives (démo)", OrganisationKind.ASSOCIATION
        )
        homes = {
            "admin": archive,
            "archivist": archive,
            "teacher": school,
            "contributor": association,
        }
        for role, email, password in DEMO_LOGINS:
            user, _ = create_or_update_user(
                uow, email, role, password, display_name=f"{role} (démo)"
            )
            user.organisation = homes[role]
    contributor = db.session.scalar(db.select(User).where(User.email == DEMO_LOGINS[3][1]))
    archivist = db.session.scalar(db.select(User).where(User.role == Role.ARCHIVIST.value))
    for seed, spec in enumerate(DEMO_STORIES):
        if db.session.scalar(db.select(Story.id).where(Story.title == spec["title"])):
            continue
        metadata = {k: v for k, v in spec.items() if k != "publish"}
        metadata.update(
            licence="CC-BY-4.0",
            consent={"contributor": True},
            credit="Contenu de démonstration Passages",
            alt_texts=[f"Dessin d'une rue, illustration {seed + 1}"],
        )
        image = submissions.IncomingImage(f"demo-{seed + 1}.jpg", io.BytesIO(demo_picture(seed)))
        with unit_of_work() as uow:
            story = submissions.submit_story(uow, metadata, [image], submitter=contributor)
            if spec["publish"]:
                review.review(uow, story.id, "approve", "Demo content", archivist)
    _load_documents(archivist, contributor)
    return DEMO_LOGINS


def _load_documents(archivist: User, contributor: User) -> None:
    """Publish the demo archive documents and one story that responds to the first (each one
    unit of work, through the same services as the form and the API)."""
    document_ids = []
    for seed, spec in enumerate(DEMO_DOCUMENTS):
        existing = db.session.scalar(db.select(Story.id).where(Story.title == spec["title"]))
        if existing is not None:
            document_ids.append(existing)
            continue
        metadata = {
            **spec,
            "kind": "document",
            "licence": "CC-BY-4.0",
            "consent": {"contributor": True},
            "credit": "Document de démonstration Passages",
            "alt_texts": [f"Page scannée : {spec['title']}"],
        }
        scan = submissions.IncomingImage(
            f"demo-document-{seed + 1}.jpg", io.BytesIO(demo_document_picture(seed))
        )
        with unit_of_work() as uow:
            document = submissions.submit_story(uow, metadata, [scan], submitter=archivist)
            review.review(uow, document.id, "approve", "Demo content", archivist)
        document_ids.append(document.id)
    if db.session.scalar(db.select(Story.id).where(Story.title == DEMO_RESPONSE["title"])):
        return
    metadata = {
        **DEMO_RESPONSE,
        "licence": "CC-BY-4.0",
        "consent": {"contributor": True},
        "responds_to": document_ids[:1],
    }
    with unit_of_work() as uow:
        story = submissions.submit_story(uow, metadata, [], submitter=contributor)
        review.review(uow, story.id, "approve", "Demo content", archivist)


def _organisation(uow: UnitOfWork, name: str, kind: OrganisationKind) -> Organisation:
    org = db.session.scalar(db.select(Organisation).where(Organisation.name == name))
    if org is None:
        org = Organisation(name=name, kind=kind.value)
        uow.add(org)
        uow.flush()
    return org
