"""Every string the code asks the catalog for has its French translation, in every source file
(not only the public pages'): French is the default interface language."""

from __future__ import annotations

from babel.messages.mofile import read_mo

from tests.i18n import pseudo


def test_every_extracted_message_has_a_french_translation():
    with (pseudo.REPO / "webapp/translations/fr/LC_MESSAGES/messages.mo").open("rb") as f:
        french = {
            (m.context, m.id if isinstance(m.id, str) else m.id[0])
            for m in read_mo(f)
            if m.id and (m.string if isinstance(m.string, str) else all(m.string))
        }
    missing = sorted(
        f"{file}:{line}: {message if isinstance(message, str) else message[0]!r}"
        for file, line, message, context in pseudo.extracted()
        if (context, message if isinstance(message, str) else message[0]) not in french
    )
    assert missing == [], (
        "Strings without French (run the extract/update commands of webapp/i18n.py, translate "
        "them in webapp/translations/fr/LC_MESSAGES/messages.po, compile):\n" + "\n".join(missing)
    )
