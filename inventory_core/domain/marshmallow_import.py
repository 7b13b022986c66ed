"""marshmallow, imported without compiling its e-mail validator's domain pattern at import.

`marshmallow.validate` compiles `Email.DOMAIN_REGEX` as it is imported: case-insensitive, over a
range of 65,000 characters, 25-40 ms on this machine, a third to a half of `import marshmallow`.
Every container pays it on its first request or message (the event schemas and the APIs' schemas
are marshmallow), though only a backorder's `email` is ever checked with it. `import_marshmallow()`
imports marshmallow with the patterns that module compiles at import (its e-mail validator's two,
both only ever `match`ed) compiled on their first use instead.

Call it before the first `import marshmallow` of a path (inventory_core.domain.events,
api_common.app.build_api). When marshmallow is already imported it does nothing: at worst the
pattern is compiled at import, as without it. tests/unit/test_marshmallow_import.py checks that the
pattern answers as marshmallow's own."""
from __future__ import annotations

import re
import sys
import threading
from typing import Any

_LAZY_MODULE = "marshmallow.validate"


class DeferredPattern:
    """A compiled pattern's stand-in: compiled on the first use of any of its attributes."""

    def __init__(self, pattern: str, flags: int) -> None:
        self._source = (pattern, flags)
        self._compiled: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if self._compiled is None:
            with self._lock:
                if self._compiled is None:
                    self._compiled = re.compile(*self._source)
        return getattr(self._compiled, name)


def import_marshmallow() -> None:
    if _LAZY_MODULE in sys.modules:
        return
    compile_now = re.compile

    def compile_long_ones_later(pattern: Any, flags: int = 0) -> Any:
        # only marshmallow.validate's own patterns; every other caller (other threads included)
        # gets re.compile's answer
        caller = sys._getframe(1).f_globals.get("__name__")
        if caller == _LAZY_MODULE and isinstance(pattern, str):
            return DeferredPattern(pattern, flags)
        return compile_now(pattern, flags)

    re.compile = compile_long_ones_later
    try:
        import marshmallow.validate  # noqa: F401
    finally:
        re.compile = compile_now
