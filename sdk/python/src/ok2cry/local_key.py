"""An end user's own ephemeral key (docs/PROTOCOL.md §8): made on the device, its key id the
RFC 7638 thumbprint of its public key, and it opens one envelope."""

from __future__ import annotations

from typing import NoReturn

from .envelope import Envelope
from .errors import KeyUsedError
from .private_key import PrivateKey
from .public_key import PublicKey

__all__ = ["LocalKey"]


class LocalKey:
    """A one-time key pair made on the end user's device ("reveal" flow).

    Send :meth:`public_jwk`; the sender seals to it with :func:`ok2cry.seal_to`; :meth:`open`
    opens one envelope and drops the key, whatever the outcome.
    """

    __slots__ = ("__key", "key_id", "public_key")

    key_id: str
    """The key id: the RFC 7638 thumbprint of the public key."""
    public_key: PublicKey
    """The public key."""

    def __init__(self, key: PrivateKey) -> None:
        if not isinstance(key, PrivateKey):
            raise TypeError("a PrivateKey")
        self.__key: PrivateKey | None = key
        self.public_key = key.public_key
        self.key_id = key.public_key.thumbprint

    @classmethod
    def generate(cls) -> LocalKey:
        """A new random key pair."""
        return cls(PrivateKey.generate())

    def public_jwk(self) -> dict[str, str]:
        """The public JWK to send: ``{kty, crv, x, y, kid: key_id, use: "enc"}``."""
        return {**self.public_key.jwk, "kid": self.key_id, "use": "enc"}

    @property
    def destroyed(self) -> bool:
        """Whether the key has opened (or tried to open) its envelope and is gone."""
        return self.__key is None

    def open(self, envelope: Envelope | str | bytes, *, context: str = "") -> bytes:
        """Opens the one envelope sealed to this key (JSON or compact text, or an
        :class:`Envelope`), with the context this device expects. An envelope that does not parse
        is refused without touching the key; from the key id check on (§10.3 steps 7 to 9) the key
        is dropped whatever happens, and a second call raises :class:`KeyUsedError`."""
        key = self.__key
        if key is None:
            raise KeyUsedError()
        parsed = envelope if isinstance(envelope, Envelope) else Envelope.parse(envelope)
        self.__key = None
        return key.open(parsed, key_id=self.key_id, context=context)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a local key has no serialized form")

    def __repr__(self) -> str:
        return f"LocalKey(key_id={self.key_id!r}, destroyed={self.destroyed})"
