"""Live test against a real ok2cry dev node, over mutual TLS. Run by tests/sdk.rs (which starts the
node) with:

  OK2CRY_URL   the node's base URL (https://127.0.0.1:PORT)
  OK2CRY_CA, OK2CRY_CERT, OK2CRY_KEY   the dev PKI: CA, client certificate and key (card-api)
  OK2CRY_BIN   the ok2cry CLI

It creates a key, verifies its token, seals to it, has the node open it (with the blocking and
the asyncio client); checks the node's refusals; and opens what the Rust CLI sealed to a local
key. Prints one line of JSON (what it did, no secret) and exits 0, or fails with an assertion.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "src"))

import ok2cry  # noqa: E402


def env(name: str) -> str:
    value = os.environ.get(name)
    assert value, f"{name} is not set"
    return value


PKI = {"ca": env("OK2CRY_CA"), "cert": env("OK2CRY_CERT"), "key": env("OK2CRY_KEY")}
done: dict[str, str] = {}


def error_of(f: object, *args: object) -> Exception:
    try:
        f(*args)  # type: ignore[operator]
    except Exception as e:  # noqa: BLE001
        return e
    raise AssertionError("no error")


with ok2cry.Client(env("OK2CRY_URL"), **PKI) as client:
    # Set PIN: a key on the node, its token verified against the node's JWK set, a PIN sealed to
    # it (the end user's side), opened by the node (the card API's side).
    created = client.create_key(ttl_seconds=60, context="card:42/set-pin", label="sdk-python live")
    key = client.verify_token(created.token)
    assert (key.key_id, key.context, key.max_opens) == (created.key_id, "card:42/set-pin", 1)
    assert dict(key.jwk) == created.jwk
    assert client.open(created.key_id, ok2cry.seal(key, "2468")) == b"2468"
    done["set_pin"] = created.key_id
    gone = error_of(client.get_key, created.key_id)
    assert isinstance(gone, ok2cry.ServiceError) and gone.status == 410 and gone.is_gone, gone
    assert gone.problem is not None and gone.problem["reason"] == "consumed"

    # The compact form, two opens; a tampered envelope is 422 OpenFailed and uses no open.
    twice = client.create_key(ttl_seconds=60, max_opens=2)
    k2 = client.verify_token(client.get_key(twice.key_id).token)
    assert k2.context == ""
    sealed = ok2cry.seal(k2, bytes([0, 1, 2, 255]))
    bad = bytearray(sealed.sealed)
    bad[-1] ^= 1
    refused = error_of(client.open, twice.key_id, ok2cry.Envelope(twice.key_id, bytes(bad)))
    assert isinstance(refused, ok2cry.ServiceError) and refused.status == 422, refused
    assert refused.problem is not None and refused.problem["error"] == "OpenFailed"
    assert client.open(twice.key_id, sealed.to_compact()) == bytes([0, 1, 2, 255])
    assert client.open(twice.key_id, ok2cry.seal(k2, "second")) == b"second"
    done["compact_and_refusal"] = twice.key_id

    # Destroyed early: DELETE, then 410 revoked.
    early = client.create_key(ttl_seconds=60)
    early_key = client.verify_token(early.token)
    client.delete_key(early.key_id)
    revoked = error_of(client.open, early.key_id, ok2cry.seal(early_key, "x"))
    assert isinstance(revoked, ok2cry.ServiceError) and revoked.status == 410, revoked
    assert revoked.problem is not None and revoked.problem["reason"] == "revoked"
    done["revoked"] = early.key_id

    # A forged signature is refused locally.
    forged = ".".join(created.token.split(".")[:2]) + "." + "A" * 86
    assert isinstance(error_of(client.verify_token, forged), ok2cry.BadSignature)


async def with_asyncio() -> str:
    async with ok2cry.AsyncClient(env("OK2CRY_URL"), **PKI) as client:
        created = await client.create_key(ttl_seconds=60, context="card:7/set-pin")
        key = await client.verify_token(created.token)
        assert await client.open(created.key_id, ok2cry.seal(key, "1357").to_json()) == b"1357"
        return created.key_id


done["asyncio"] = asyncio.run(with_asyncio())

# Reveal: the Rust CLI seals to this device's own key; the device opens it, once.
device = ok2cry.LocalKey.generate()
with tempfile.TemporaryDirectory(prefix="ok2cry-live-") as d:
    jwk_file = pathlib.Path(d) / "device.jwk"
    jwk_file.write_text(json.dumps(device.public_jwk()))
    compact = subprocess.run(
        [env("OK2CRY_BIN"), "seal", "--jwk", str(jwk_file), "--context", "card:42/reveal", "--compact"],
        input=b"4111111111111111",
        capture_output=True,
        check=True,
    ).stdout.decode()
assert ok2cry.Envelope.parse(compact).key_id == device.key_id
assert device.open(compact, context="card:42/reveal") == b"4111111111111111"
assert device.destroyed
done["cli_sealed_to"] = device.key_id

print(json.dumps(done))
