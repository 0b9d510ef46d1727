"""Key ids (docs/PROTOCOL.md §2): 1 to 128 characters of A–Z a–z 0–9 _ -."""

from __future__ import annotations

import re
from typing import TypeGuard

from .errors import fail

__all__ = ["MAX_KEY_ID_LEN", "check_key_id", "is_key_id"]

#: The longest key id.
MAX_KEY_ID_LEN = 128

_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def is_key_id(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a key id of §2."""
    return isinstance(value, str) and _KEY_ID.fullmatch(value) is not None


def check_key_id(value: object) -> str:
    """``value`` if it is a key id of §2, else ``InvalidKeyId``."""
    if not is_key_id(value):
        fail("InvalidKeyId", "not a key id (1 to 128 of A-Z a-z 0-9 _ -)")
    return value
