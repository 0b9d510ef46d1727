// The end user's side of both flows, in the browser. All cryptography is @hpke/core (RFC 9180
// on WebCrypto) and jose (JWS verification, RFC 7638 thumbprints); this file only speaks the
// ok2cry v1 wire format (docs/PROTOCOL.md).
import { Aes256Gcm, CipherSuite, DhkemP256HkdfSha256, HkdfSha256 } from "@hpke/core";
import { calculateJwkThumbprint, createLocalJWKSet, jwtVerify } from "jose";

const suite = new CipherSuite({ kem: new DhkemP256HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
const ENC_LEN = 65;
const utf8 = new TextEncoder();

function info(keyId, context) {
  const parts = [utf8.encode("ok2cry/v1"), Uint8Array.of(0), utf8.encode(keyId), Uint8Array.of(0), utf8.encode(context)];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
const b64u = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
function unb64u(text) {
  const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}
const $ = (id) => document.getElementById(id);

async function setPin() {
  const card = $("card").value;
  const r = await fetch(`/api/cards/${card}/pin-key`, { method: "POST" });
  const token = r.headers.get("Ok2cry-Key");
  const jwks = createLocalJWKSet(await (await fetch("/api/jwks")).json());
  const { payload } = await jwtVerify(token, jwks, { algorithms: ["ES256"], typ: "ok2cry-key+jwt" });
  if (payload.v !== 1 || payload.suite !== "STRONG") throw new Error("not an ok2cry v1 key");
  const { kty, crv, x, y } = payload.jwk;
  const recipientPublicKey = await suite.kem.importKey("jwk", { kty, crv, x, y }, true);
  const context = payload.context ?? "";
  const { enc, ct } = await suite.seal({ recipientPublicKey, info: info(payload.key_id, context) }, utf8.encode($("pin").value));
  const sealed = new Uint8Array(ENC_LEN + ct.byteLength);
  sealed.set(new Uint8Array(enc), 0);
  sealed.set(new Uint8Array(ct), ENC_LEN);
  const compact = `v1.${payload.key_id}.${b64u(sealed)}${context ? "." + b64u(utf8.encode(context)) : ""}`;
  const done = await fetch(`/api/cards/${card}/pin`, { method: "POST", headers: { "Ok2cry-Envelope": compact } });
  $("pin-status").value = done.ok ? "PIN set" : `failed (${done.status})`;
}

async function reveal() {
  const card = $("card").value;
  const pair = await suite.kem.generateKeyPair();
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", pair.publicKey);
  const kid = await calculateJwkThumbprint({ kty, crv, x, y }, "sha256");
  const r = await fetch(`/api/cards/${card}/reveal`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jwk: { kty, crv, x, y, kid, use: "enc" } }),
  });
  const [version, keyId, sealedText] = r.headers.get("Ok2cry-Envelope").split(".");
  if (version !== "v1" || keyId !== kid) throw new Error("envelope is not for this key");
  const sealed = unb64u(sealedText);
  const pt = await suite.open(
    { recipientKey: pair, enc: sealed.slice(0, ENC_LEN), info: info(kid, `card:${card}/reveal`) },
    sealed.slice(ENC_LEN),
  );
  $("pan").value = new TextDecoder().decode(pt);
}

$("set-pin").addEventListener("click", () => setPin().catch((e) => { $("pin-status").value = `error: ${e.message}`; }));
$("reveal").addEventListener("click", () => reveal().catch((e) => { $("pan").value = `error: ${e.message}`; }));
