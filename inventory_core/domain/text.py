"""What user text may hold. A requester's name ends up in logs, e-mails and operators' screens:
a CR/LF could add a line (or, in a header, an e-mail header), a NUL or escape sequence can end a
string early or recolour a terminal, and invisible formatting characters (U+202E reverses the
text after it) make an operator read something other than what is stored."""
from __future__ import annotations

import unicodedata

# Unicode categories refused in user text: control (Cc: NUL, CR, LF, ESC, NEL...), format (Cf:
# bidi overrides, zero-width), surrogates, private use, unassigned, and the line and paragraph
# separators (Zl, Zp).
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def has_control_characters(text: str) -> bool:
    return any(unicodedata.category(char) in REFUSED_CATEGORIES for char in text)


def one_line(text: str) -> str:
    """`text` with every refused character replaced by a space: safe to put on one line of an
    e-mail (subject or body) even if it came from before these rules, or from a forged event."""
    return "".join(" " if unicodedata.category(char) in REFUSED_CATEGORIES else char
                   for char in text)
