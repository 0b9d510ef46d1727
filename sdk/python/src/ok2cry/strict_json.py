"""Strict JSON, docs/PROTOCOL.md §10.1, for every JSON text of the protocol (envelope, token
header and claims, JWK, JWK set).

The standard library's :mod:`json` reads the text (RFC 8259: its whitespace is only SP, HT, LF
and CR, it refuses control characters in strings and a byte order mark); its hooks are used to
refuse what it would otherwise accept: a member name twice in an object (``object_pairs_hook``),
``NaN`` and ``Infinity`` (``parse_constant``), and numbers that are not integers of the
protocol — negative, with a fraction or an exponent, above 2^53 − 1 — which are kept as
:data:`NOT_INTEGER` instead of a float (``parse_int``, ``parse_float``). After reading, a walk
checks the depth (at most 32 levels) and that no string holds an unpaired surrogate.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from .errors import fail

__all__ = ["MAX_DEPTH", "MAX_INTEGER", "NOT_INTEGER", "NotInteger", "read_json"]

#: §10.1: the largest integer of the protocol, 2^53 − 1.
MAX_INTEGER: Final = 2**53 - 1
#: §10.1 rule 4: the deepest nesting of arrays and objects (the outermost is level 1).
MAX_DEPTH: Final = 32

_INTEGER = re.compile(r"0|[1-9][0-9]*")


class NotInteger:
    """A JSON number that is not an integer of the protocol (its value is never needed)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_INTEGER"


#: Stands for every number that is not an integer of the protocol.
NOT_INTEGER: Final = NotInteger()


class _Refused(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            raise _Refused("a member twice")
        out[name] = value
    return out


def _integer(text: str) -> int | NotInteger:
    if _INTEGER.fullmatch(text) is None or len(text) > 16:
        return NOT_INTEGER
    value = int(text)
    return value if value <= MAX_INTEGER else NOT_INTEGER


def _not_integer(_text: str) -> NotInteger:
    return NOT_INTEGER


def _constant(_name: str) -> Any:
    raise _Refused("not JSON")


def _well_formed(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check(value: Any, depth: int) -> bool:
    if isinstance(value, dict):
        if depth + 1 > MAX_DEPTH:
            return False
        return all(_well_formed(k) and _check(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        if depth + 1 > MAX_DEPTH:
            return False
        return all(_check(v, depth + 1) for v in value)
    if isinstance(value, str):
        return _well_formed(value)
    return True


def read_json(data: str | bytes, what: str) -> Any:
    """Reads ``data`` (UTF-8 bytes, or text) by the rules of §10.1, or raises ``Malformed``.

    Objects come back as ``dict``, arrays as ``list``; an integer of the protocol is an ``int``,
    any other number :data:`NOT_INTEGER`. Test integers with ``type(v) is int`` (``True`` is an
    ``int`` too).
    """
    if isinstance(data, bytes):
        try:
            # "utf-8", not "utf-8-sig": a byte order mark is kept, and json refuses it.
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            fail("Malformed", f"{what}: not UTF-8")
    elif isinstance(data, str):
        text = data
    else:
        fail("Malformed", f"{what}: not text")
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_int=_integer,
            parse_float=_not_integer,
            parse_constant=_constant,
        )
    except (ValueError, RecursionError):
        fail("Malformed", f"{what}: not strict JSON (PROTOCOL.md §10.1)")
    if not _check(value, 0):
        fail("Malformed", f"{what}: nested too deep or an unpaired surrogate")
    return value
