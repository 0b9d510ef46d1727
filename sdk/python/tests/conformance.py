"""The conformance suite: tests/vectors/protocol-v1.json (docs/PROTOCOL.md §12) run through the
package (``ok2cry`` as imported: the source tree in the tests, the installed wheel in
test_package.py).

``run_conformance(file)`` returns ``(outcomes, expected, counts)``: for every case, named
``seal/<name>``, ``key_token``, ``must_pass/<name>`` or ``must_fail/<name>``, the outcome "ok" or
the §11 name it was refused with ("wrong result" for a must-pass case whose result differs from
the file's; "raised <type>" for anything that is not a ProtocolError). tests/sdk.rs compares
these outcomes between the implementations.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable
from typing import Any

import ok2cry

VECTORS = pathlib.Path(__file__).resolve().parents[3] / "tests" / "vectors"


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def outcome(f: Callable[[], bool]) -> str:
    try:
        return "ok" if f() else "wrong result"
    except ok2cry.ProtocolError as e:
        return e.code
    except Exception as e:  # noqa: BLE001 — reported as an outcome, which then fails the case
        return f"raised {type(e).__name__}: {e}"


def open_case(c: dict[str, Any]) -> bytes:
    key = ok2cry.PrivateKey.from_scalar(bytes.fromhex(c["opener_skR"]))
    record = {"key_id": c["opener_key_id"], "context": c["opener_context"]}
    if c["form"] == "sealed_hex":
        return key.open_sealed(bytes.fromhex(c["input"]), **record)
    if c["form"] == "json":
        envelope = ok2cry.Envelope.from_json(c["input"])
    else:
        envelope = ok2cry.Envelope.from_compact(c["input"])
    return key.open(envelope, **record)


def token_case(c: dict[str, Any], file_jwks: Any) -> ok2cry.VerifiedKey:
    jwks = ok2cry.Jwks.parse(c["jwks_json"] if "jwks_json" in c else json.dumps(file_jwks))
    return ok2cry.verify_key_token(c["token"], jwks, now=c["now"])


def run_conformance(file: Any) -> tuple[dict[str, str], dict[str, str], dict[str, int]]:
    outcomes: dict[str, str] = {}
    expected: dict[str, str] = {}
    counts = {"seal": 0, "key_token": 1, "must_pass": 0, "must_fail": 0}

    for v in file["seal"]:
        counts["seal"] += 1

        def seal_vector(v: Any = v) -> bool:
            if ok2cry.info(v["key_id"], v["context"]).hex() != v["info"]:
                return False
            key = ok2cry.PrivateKey.from_scalar(bytes.fromhex(v["skRm"]))
            if key.public_key.thumbprint != v["recipient_jwk_thumbprint"]:
                return False
            record = {"key_id": v["key_id"], "context": v["context"]}
            as_json = ok2cry.Envelope.from_json(v["envelope_json"])
            as_compact = ok2cry.Envelope.from_compact(v["envelope_compact"])
            if as_json.to_compact() != v["envelope_compact"] or as_compact.to_json() != v["envelope_json"]:
                return False
            for envelope in (as_json, as_compact):
                if key.open(envelope, **record).hex() != v["plaintext"]:
                    return False
            # What this package seals to the same recipient opens to the same plaintext.
            recipient = ok2cry.PublicKey.from_jwk(json.dumps(v["recipient_jwk"]))
            ours = ok2cry.seal_to(recipient, bytes.fromhex(v["plaintext"]), **record)
            return key.open(ok2cry.Envelope.parse(ours.to_compact()), **record).hex() == v["plaintext"]

        name = f"seal/{v['name']}"
        expected[name] = "ok"
        outcomes[name] = outcome(seal_vector)

    t = file["key_token"]

    def key_token() -> bool:
        verified = token_case({"token": t["token"], "now": t["now"]}, t["jwks"])
        return (
            verified.key_id == t["verified_key_id"]
            and verified.context == t["verified_context"]
            and verified.signing_kid == t["header"]["kid"]
            and verified.expires_at == t["claims"]["exp"]
        )

    expected["key_token"] = "ok"
    outcomes["key_token"] = outcome(key_token)

    for c in file["must_pass"]:
        counts["must_pass"] += 1

        def must_pass(c: Any = c) -> bool:
            if c["kind"] == "open":
                return open_case(c).hex() == c["plaintext"]
            verified = token_case(c, t["jwks"])
            return verified.key_id == c["key_id"] and verified.context == c["context"]

        name = f"must_pass/{c['name']}"
        expected[name] = "ok"
        outcomes[name] = outcome(must_pass)

    for c in file["must_fail"]:
        counts["must_fail"] += 1

        def must_fail(c: Any = c) -> bool:
            if c["kind"] == "open":
                open_case(c)
            else:
                token_case(c, t["jwks"])
            return True

        name = f"must_fail/{c['name']}"
        expected[name] = c["error"]
        outcomes[name] = outcome(must_fail)

    return outcomes, expected, counts
