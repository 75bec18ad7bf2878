"""Public pages: home, story pages, search, derivative images, login and the health check.

Only published stories appear here; ``webapp.services.access`` is asked for every story and image.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import login_user, logout_user
from sqlalchemy import text

from webapp.auth import current_person
from webapp.extensions import db
from webapp.models import MediaAsset, Story, StoryStatus, User
from webapp.services import access, backends
from webapp.services.searching import search_request_from_args, search_stories

bp = Blueprint("public", __name__)


@bp.get("/")
def home():
    stories = db.session.scalars(
        db.select(Story)
        .where(Story.status == StoryStatus.PUBLISHED.value)
        .order_by(Story.published_at.desc(), Story.id.desc())
        .limit(12)
    ).all()
    return render_template("home.html", stories=stories)


@bp.get("/stories/<int:story_id>")
def story(story_id: int):
    story = access.require_view(
        db.session.get(Story, story_id), current_person(), request.args.get("t")
    )
    return render_template("story.html", story=story, token=request.args.get("t"))


@bp.get("/search")
def search():
    search_request = search_request_from_args(request.args)
    page = search_stories(search_request)
    return render_template("search.html", page=page, query=search_request)


@bp.get("/media/<int:media_id>/<name>")
def derivative(media_id: int, name: str):
    """Serve a derivative to whoever may see its story; originals are never served here."""
    media = db.session.get(MediaAsset, media_id)
    if media is None:
        abort(404)
    access.require_view(media.story, current_person(), request.args.get("t"))
    entry = (media.derivatives or {}).get(name)
    if entry is None:
        abort(404)
    store = backends.object_store()
    if media.story.is_public:
        url = store.presigned_url(entry["key"])
        if url:
            return redirect(url, code=302)
    try:
        stream = store.open(entry["key"])
    except FileNotFoundError:
        abort(404)
    response = send_file(
        stream, mimetype=entry["mime"], max_age=3600 if media.story.is_public else 0
    )
    if not media.story.is_public:
        response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        email = (request.form.get("email") or "").strip().lower()
        user = db.session.scalar(db.select(User).where(User.email == email)) if email else None
        if user and user.active and user.check_password(request.form.get("password") or ""):
            login_user(user)
            target = request.args.get("next") or ""
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("moderation.queue") if user.is_staff else url_for("public.home")
            return redirect(target)
        flash("Wrong e-mail address or password.", "error")
        return render_template("login.html", email=email), 401
    return render_template("login.html", email="")


@bp.post("/logout")
def logout():
    logout_user()
    return redirect(url_for("public.home"))


@bp.get("/healthz")
def healthz():
    db.session.execute(text("SELECT 1"))
    return Response("ok\n", mimetype="text/plain")
