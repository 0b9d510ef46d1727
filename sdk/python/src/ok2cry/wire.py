"""Rules shared by the text forms (docs/PROTOCOL.md §10.1 "Text")."""

from __future__ import annotations

__all__ = ["trim", "utf8_length"]


def trim(text: str) -> str:
    """Removes the surrounding SP, HT, LF and CR — those four and nothing else."""
    return text.strip(" \t\n\r")


def utf8_length(text: str) -> int:
    """The number of UTF-8 bytes of ``text`` (which holds no lone surrogate)."""
    return len(text.encode("utf-8"))
