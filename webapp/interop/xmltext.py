"""Text that XML 1.0 can carry: the one filter every string goes through before lxml sees it.

XML 1.0 cannot hold most control characters, lone surrogates or U+FFFE/U+FFFF, whatever the
escaping; lxml refuses them with an exception. Stories and request arguments may contain them
(a pasted text, a harvester's junk argument), so each is replaced with U+FFFD: the document stays
well-formed and the reader sees where something was lost.
"""

from __future__ import annotations

import re

_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: object) -> str:
    """``value`` as a string XML 1.0 can carry."""
    return _NOT_XML_CHAR.sub("\ufffd", str(value))
