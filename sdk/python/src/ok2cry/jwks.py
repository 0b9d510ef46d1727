"""The service's JWK set (docs/PROTOCOL.md §7.4): the keys key tokens are verified with."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from .errors import fail
from .public_key import JsonInput, JwkShape, PublicKey, read_json_input

__all__ = ["Jwks"]


class Jwks:
    """A JWK set read by §7.4: a JSON object whose ``keys`` is an array of objects. Entries are
    judged only when a token names their ``kid``; unusable ones are ignored, not refused.

    Obtain it over an authenticated channel (TLS to the service, configuration, attestation).
    """

    __slots__ = ("_entries",)

    _entries: tuple[dict[str, Any], ...]

    def __init__(self, entries: tuple[dict[str, Any], ...]) -> None:
        object.__setattr__(self, "_entries", entries)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a Jwks cannot be changed")

    @classmethod
    def parse(cls, jwks: JsonInput) -> Jwks:
        """Reads a JWK set strictly (§10.1 anywhere in it): anything but an object with an array
        ``keys`` of objects is ``Malformed``. Other members are ignored (RFC 7517 §5)."""
        value = read_json_input(jwks, "JWK set")
        keys = value.get("keys") if isinstance(value, dict) else None
        if not isinstance(keys, list):
            fail("Malformed", 'JWK set: expected {"keys": [...]}')
        if not all(isinstance(entry, dict) for entry in keys):
            fail("Malformed", "JWK set: an entry is not an object")
        return cls(tuple(keys))

    def __len__(self) -> int:
        return len(self._entries)

    def signing_key(self, kid: str) -> ec.EllipticCurvePublicKey:
        """§7.4 and §10.2 step 6: the key of the one usable entry that carries ``kid``. A kid on no
        entry or on several, or an entry that cannot verify ES256, is ``UnknownSigningKey``."""
        matching = [e for e in self._entries if type(e.get("kid")) is str and e["kid"] == kid]
        if len(matching) != 1:
            fail("UnknownSigningKey", f"{len(matching)} entries carry this kid")
        entry = matching[0]
        if ("alg" in entry and entry["alg"] != "ES256") or ("use" in entry and entry["use"] != "sig"):
            fail("UnknownSigningKey", "the entry is not an ES256 signing key")

        def text(name: str) -> str:
            v = entry.get(name)
            return v if type(v) is str else ""

        shape = JwkShape(
            kty=text("kty"),
            crv=text("crv"),
            x=text("x"),
            y=text("y"),
            kid=kid,
            use=None,
            alg=None,
            private_part="d" in entry,
        )
        return PublicKey.from_shape(shape, "UnknownSigningKey").cryptography_key()

    def __repr__(self) -> str:
        return f"Jwks({len(self._entries)} entries)"
