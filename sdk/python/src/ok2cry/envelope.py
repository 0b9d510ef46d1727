"""Envelopes (docs/PROTOCOL.md §5): one sealed message for one key, in its JSON and compact
forms, read by §10.3 steps 1 to 6; and sealing (§4), done by pyca ``cryptography``'s HPKE."""

from __future__ import annotations

import json
import re
from typing import Any, Union

from . import base64url
from .errors import fail
from .key_id import check_key_id
from .key_token import VerifiedKey
from .public_key import PublicKey
from .strict_json import MAX_INTEGER, read_json
from .suite import MAX_CONTEXT_LEN, MAX_PLAINTEXT_LEN, MAX_SEALED_LEN, MIN_SEALED_LEN, hpke_suite, info
from .wire import trim, utf8_length

__all__ = ["Envelope", "Plaintext", "seal", "seal_to"]

#: A plaintext: bytes, or text (sealed as its UTF-8).
Plaintext = Union[bytes, bytearray, memoryview, str]

_COMPACT_VERSION = re.compile(r"v(0|[1-9][0-9]*)")
_MEMBERS = frozenset({"version", "key_id", "sealed", "context"})


def _check_sealed(sealed: bytes) -> None:
    """§10.3 step 5: 82 to 65 617 bytes, starting with 0x04."""
    if not MIN_SEALED_LEN <= len(sealed) <= MAX_SEALED_LEN:
        fail("Malformed", "sealed: wrong length")
    if sealed[0] != 0x04:
        fail("Malformed", "sealed: enc is not an uncompressed point")


def _check_context(context: str) -> None:
    try:
        length = utf8_length(context)
    except UnicodeEncodeError:
        fail("Malformed", "context: not UTF-8")
    if length > MAX_CONTEXT_LEN:
        fail("ContextTooLong", "context over 256 bytes")


class Envelope:
    """One sealed message for one key. It holds only ciphertext: log, copy and forward it freely.

    Read one with :meth:`parse` (either form), :meth:`from_json` or :meth:`from_compact`; make
    one with :func:`seal` or :func:`seal_to`.
    """

    __slots__ = ("context", "key_id", "sealed")

    key_id: str
    """The key id the message is sealed to."""
    sealed: bytes
    """The sealed bytes: enc (65 bytes) ‖ ciphertext."""
    context: str | None
    """The context the sender bound, or None."""

    def __init__(self, key_id: str, sealed: bytes, context: str | None = None) -> None:
        """An envelope from its parts, checked as a receiver checks them (§10.3 steps 4 to 6): a
        key id (``InvalidKeyId``), 82 to 65 617 sealed bytes starting 0x04 (``Malformed``), a
        context of at most 256 bytes (``ContextTooLong``; ``""`` means none)."""
        check_key_id(key_id)
        if not isinstance(sealed, (bytes, bytearray, memoryview)):
            fail("Malformed", "sealed: not bytes")
        sealed = bytes(sealed)
        _check_sealed(sealed)
        if context is not None:
            if not isinstance(context, str):
                fail("Malformed", "context: not a string")
            _check_context(context)
        object.__setattr__(self, "key_id", key_id)
        object.__setattr__(self, "sealed", sealed)
        object.__setattr__(self, "context", context or None)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("an Envelope cannot be changed")

    @classmethod
    def parse(cls, text: str | bytes) -> Envelope:
        """Reads either form: after the surrounding whitespace, text that starts with ``{`` is the
        JSON form, anything else the compact form."""
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                fail("Malformed", "envelope: not UTF-8")
        if not isinstance(text, str):
            fail("Malformed", "envelope: not text")
        t = trim(text)
        return cls.from_json(t) if t.startswith("{") else cls.from_compact(t)

    @classmethod
    def from_json(cls, data: str | bytes) -> Envelope:
        """Reads the JSON form (§5, §10.3 steps 1 to 6); bytes are UTF-8."""
        # 1.
        m = read_json(data, "envelope")
        if not isinstance(m, dict):
            fail("Malformed", "envelope: not a JSON object")
        # 2. The version, before any other member.
        version = m.get("version")
        if type(version) is not int:
            fail("Malformed", "envelope: version is not an integer")
        if version != 1:
            fail("UnsupportedVersion", "envelope version is not 1")
        # 3.
        if not set(m) <= _MEMBERS:
            fail("Malformed", "envelope: members")
        key_id, sealed, context = m.get("key_id"), m.get("sealed"), m.get("context")
        if type(key_id) is not str or type(sealed) is not str or ("context" in m and type(context) is not str):
            fail("Malformed", "envelope: key_id and sealed must be strings, context a string if present")
        # 4, 5, 6.
        check_key_id(key_id)
        data_bytes = base64url.decode(sealed)
        if data_bytes is None:
            fail("Malformed", "sealed: not base64url")
        return cls(key_id, data_bytes, context)

    @classmethod
    def from_compact(cls, text: str) -> Envelope:
        """Reads the compact form ``v1.<key_id>.<sealed>[.<context>]`` (§5, §10.3 steps 1 to 6)."""
        if not isinstance(text, str):
            fail("Malformed", "envelope: not text")
        # 1.
        parts = trim(text).split(".")
        # 2. The version, before the number of parts.
        if parts[0] != "v1":
            m = _COMPACT_VERSION.fullmatch(parts[0])
            if m is not None and len(m.group(1)) <= 16 and int(m.group(1)) <= MAX_INTEGER:
                fail("UnsupportedVersion", "envelope version is not 1")
            fail("Malformed", "compact envelope: the first part is not v1")
        # 3.
        if len(parts) not in (3, 4):
            fail("Malformed", "compact envelope: expected three or four parts")
        # 4, 5.
        key_id = check_key_id(parts[1])
        sealed = base64url.decode(parts[2])
        if sealed is None:
            fail("Malformed", "sealed: not base64url")
        _check_sealed(sealed)
        # 6. Length before UTF-8.
        context: str | None = None
        if len(parts) == 4:
            raw = base64url.decode(parts[3])
            if raw is None:
                fail("Malformed", "context: not base64url")
            if len(raw) > MAX_CONTEXT_LEN:
                fail("ContextTooLong", "context over 256 bytes")
            try:
                context = raw.decode("utf-8")
            except UnicodeDecodeError:
                fail("Malformed", "context: not UTF-8")
        return cls(key_id, sealed, context)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form as a dict (``context`` omitted when there is none)."""
        out: dict[str, Any] = {"version": 1, "key_id": self.key_id, "sealed": base64url.encode(self.sealed)}
        if self.context is not None:
            out["context"] = self.context
        return out

    def to_json(self) -> str:
        """The JSON form as text (compact, no whitespace)."""
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    def to_compact(self) -> str:
        """The compact form, one line for the ``Ok2cry-Envelope`` header."""
        base = f"v1.{self.key_id}.{base64url.encode(self.sealed)}"
        if self.context is None:
            return base
        return f"{base}.{base64url.encode(self.context.encode('utf-8'))}"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Envelope)
            and (other.key_id, other.sealed, other.context) == (self.key_id, self.sealed, self.context)
        )

    def __hash__(self) -> int:
        return hash((self.key_id, self.sealed, self.context))

    def __repr__(self) -> str:
        return f"Envelope(key_id={self.key_id!r}, sealed=<{len(self.sealed)} bytes>, context={self.context!r})"


def _plaintext_bytes(plaintext: Plaintext) -> bytes:
    if isinstance(plaintext, str):
        data = plaintext.encode("utf-8")
    elif isinstance(plaintext, (bytes, bytearray, memoryview)):
        data = bytes(plaintext)
    else:
        raise TypeError("plaintext: bytes or text")
    if not 1 <= len(data) <= MAX_PLAINTEXT_LEN:
        fail("PlaintextSize", "plaintext must be 1 to 65 536 bytes")
    return data


def seal(key: VerifiedKey, plaintext: Plaintext) -> Envelope:
    """Seals ``plaintext`` to a verified key token: HPKE base mode to its public key, with its key
    id and context in ``info`` and empty AAD (§3, §4)."""
    if not isinstance(key, VerifiedKey):
        raise TypeError("seal: the key must be a VerifiedKey (verify_key_token)")
    return seal_to(key.public_key, plaintext, key_id=key.key_id, context=key.context)


def seal_to(
    recipient: PublicKey, plaintext: Plaintext, *, context: str = "", key_id: str | None = None
) -> Envelope:
    """Seals ``plaintext`` to a public key the caller trusts without a token: an end user's own key
    received as a JWK (:meth:`PublicKey.from_jwk`), in the "reveal" flow. Its key id is the key's
    thumbprint unless another is given. Trust in such a key is trust in the channel it came over
    (docs/PROTOCOL.md §8)."""
    if not isinstance(recipient, PublicKey):
        raise TypeError("seal_to: a PublicKey")
    kid = check_key_id(recipient.thumbprint if key_id is None else key_id)
    if not isinstance(context, str):
        fail("Malformed", "context: not a string")
    _check_context(context)
    data = _plaintext_bytes(plaintext)
    try:
        sealed = hpke_suite().encrypt(data, recipient.cryptography_key(), info=info(kid, context))
    except Exception:  # noqa: BLE001 — any refusal by the KEM is SealFailed, without detail
        fail("SealFailed", "the KEM refused the recipient key")
    return Envelope(kid, sealed, context)
