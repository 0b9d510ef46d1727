// The end user's side of both flows, in the browser, on @ok2cry/client (sdk/typescript): the
// package verifies the key token, seals, makes the one-time local key and opens; all
// cryptography underneath is @hpke/core (RFC 9180 on WebCrypto) and jose.
import {
  Jwks,
  LocalKey,
  readEnvelopeHeader,
  readKeyTokenHeader,
  seal,
  verifyKeyToken,
  writeEnvelopeHeader,
} from "@ok2cry/client";

const $ = (id) => document.getElementById(id);

// Set PIN: a disposable ok2cry key (token forwarded by the proxy), verified against the
// service's JWK set, the PIN sealed to it and sent back in the Ok2cry-Envelope header.
async function setPin() {
  const card = $("card").value;
  const r = await fetch(`/api/cards/${card}/pin-key`, { method: "POST" });
  const token = readKeyTokenHeader(r.headers);
  if (token === undefined) throw new Error(`no key token (${r.status})`);
  const jwks = Jwks.parse(await (await fetch("/api/jwks")).text());
  const key = await verifyKeyToken(token, jwks);
  const headers = new Headers();
  writeEnvelopeHeader(headers, await seal(key, $("pin").value));
  const done = await fetch(`/api/cards/${card}/pin`, { method: "POST", headers });
  $("pin-status").value = done.ok ? "PIN set" : `failed (${done.status})`;
}

// Reveal: a key made here (its private part never leaves WebCrypto), the card number sealed
// to it by the card API, opened once.
async function reveal() {
  const card = $("card").value;
  const device = await LocalKey.generate();
  const r = await fetch(`/api/cards/${card}/reveal`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jwk: device.publicJwk() }),
  });
  const envelope = readEnvelopeHeader(r.headers);
  if (envelope === undefined) throw new Error(`no envelope (${r.status})`);
  const plaintext = await device.open(envelope, { context: `card:${card}/reveal` });
  $("pan").value = new TextDecoder().decode(plaintext);
  plaintext.fill(0);
}

$("set-pin").addEventListener("click", () => setPin().catch((e) => { $("pin-status").value = `error: ${e.message}`; }));
$("reveal").addEventListener("click", () => reveal().catch((e) => { $("pan").value = `error: ${e.message}`; }));
