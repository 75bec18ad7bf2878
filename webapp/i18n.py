"""Interface languages: French by default, English on request, remembered in a cookie.

This module only chooses the *interface* locale (menus, labels, dates, numbers). A story's own
language is data (``Story.language``) and is never translated or changed here. Message ids are
English; French is a catalog like any other. Compiled catalogs
(``webapp/translations/<lang>/LC_MESSAGES/messages.mo``) are committed so that a fresh clone
works without a build step. After changing interface strings, from the repository root::

    pybabel extract -F webapp/translations/babel.cfg -o webapp/translations/messages.pot \
        --no-location --sort-output --omit-header .
    pybabel update -i webapp/translations/messages.pot -d webapp/translations -l fr
    # translate the new entries in fr/LC_MESSAGES/messages.po, then:
    pybabel compile -d webapp/translations -l fr

Stored codes shown to people (statuses, states, kinds, roles…) take their words from
``webapp/labels.py`` (the ``|label`` filter in templates), never from the code itself.
``tests/i18n/test_french_catalog.py`` fails while any extracted string lacks its French;
``tests/i18n/test_pseudo_locale.py`` renders every route in a wrapped pseudo-locale and names
each visible text that bypasses the catalog. On a merge conflict in the catalog, keep both
sides' entries in the .po, extract and update again, and recompile the .mo (never merge it).
"""

from __future__ import annotations

import logging

from babel import Locale, UnknownLocaleError
from flask import Flask, has_request_context, request
from flask_babel import Babel

from webapp import labels, licences, reasons

log = logging.getLogger(__name__)

#: Interface languages, in the order the switcher shows them; the first is the default.
LANGUAGES: dict[str, str] = {"fr": "Français", "en": "English"}
DEFAULT_LANGUAGE = "fr"
#: The cookie that remembers a visitor's choice (no account needed).
COOKIE_NAME = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600

#: Scripts written right to left, by BCP 47 primary language subtag (when no script subtag).
_RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur", "ps", "sd", "ug", "yi", "dv", "ckb", "arz"})
_RTL_SCRIPTS = frozenset({"Arab", "Hebr", "Thaa", "Syrc", "Nkoo", "Adlm", "Rohg"})
_LTR_SCRIPTS = frozenset({"Latn", "Cyrl", "Tfng", "Grek"})

babel = Babel()


#: The API's language when the caller states none: its message ids and its documentation are
#: English, and integrations written against them compare codes, not words.
API_DEFAULT_LANGUAGE = "en"


def select_locale() -> str:
    """The visitor's chosen interface language, else French (the sites' first audience).

    On the APIs (``/api/``, ``/iiif/``) a caller without the cookie gets the best match of its
    ``Accept-Language`` (a page's script showing an error to a person sends the browser's),
    else English. Outside a request (the command line, whose own words are English) it is
    English too; what is written for people outside a request, e-mails, asks for French
    explicitly (``force_locale(DEFAULT_LANGUAGE)``).
    """
    if not has_request_context():
        return API_DEFAULT_LANGUAGE
    chosen = request.cookies.get(COOKIE_NAME, "")
    if chosen in LANGUAGES:
        return chosen
    if request.path.startswith(("/api/", "/iiif/")):
        return request.accept_languages.best_match(LANGUAGES) or API_DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def text_direction(tag: str | None) -> str:
    """``rtl`` or ``ltr`` for a BCP 47 tag; a script subtag wins over the language.

    Browsers guess direction from the first strong character (``dir="auto"``), which fails for
    an Arabic story starting with a Latin place name; the tag is the contributor's statement.
    """
    if not tag:
        return "ltr"
    parts = tag.replace("_", "-").split("-")
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            script = part.title()
            if script in _RTL_SCRIPTS:
                return "rtl"
            if script in _LTR_SCRIPTS:
                return "ltr"
    return "rtl" if parts[0].lower() in _RTL_LANGUAGES else "ltr"


def language_name(tag: str | None) -> str:
    """A story's language named in the interface language (``ar`` → "arabe" in French).

    Unknown or private tags are shown as written: the territory's languages are never a closed
    list, and a tag we cannot name is still the contributor's truth.
    """
    if not tag:
        return ""
    from flask_babel import get_locale

    try:
        name = Locale.parse(tag, sep="-").get_display_name(get_locale() or DEFAULT_LANGUAGE)
    except (ValueError, TypeError, UnknownLocaleError):
        return tag
    return name or tag


def init_app(app: Flask) -> None:
    """Bind Flask-Babel with our locale selector and expose the helpers templates need."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Paris")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    babel.init_app(app, locale_selector=select_locale)

    from flask_babel import get_locale

    app.jinja_env.globals.update(
        interface_languages=LANGUAGES,
        current_language=lambda: str(get_locale() or DEFAULT_LANGUAGE),
        text_direction=text_direction,
        licence_deed=licences.deed_url,
    )
    app.jinja_env.filters["direction"] = text_direction
    app.jinja_env.filters["language_name"] = language_name
    app.jinja_env.filters["label"] = labels.label
    app.jinja_env.filters["reason"] = reasons.words
