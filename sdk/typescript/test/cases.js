// Unit tests of the package that need no Node API: the same list runs under node's test runner
// (unit.test.js) and in Chromium (browser.test.js). Each case is [name, async (lib, t, data)]:
// `lib` is the package's module, `t` the small assertion kit below, `data` the vector files
// ({ vectors, python }).

export const fromHex = (text) => Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
export const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const utf8 = (s) => new TextEncoder().encode(s);
const b64u = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** Assertions that work in Node and in a browser. */
export function kit(lib) {
  const show = (v) => {
    try {
      return JSON.stringify(v);
    } catch {
      return String(v);
    }
  };
  const t = {
    ok(cond, msg = "expected true") {
      if (!cond) throw new Error(msg);
    },
    equal(actual, expected, msg = "") {
      if (actual !== expected) throw new Error(`${msg} expected ${show(expected)}, got ${show(actual)}`);
    },
    /** `f` (sync or async) must throw a ProtocolError with `code`; returns it. */
    async refuses(f, code, msg = "") {
      let error;
      try {
        await f();
      } catch (e) {
        error = e;
      }
      if (error === undefined) throw new Error(`${msg} accepted, expected ${code}`);
      if (!(error instanceof lib.ProtocolError)) throw new Error(`${msg} threw ${error}, expected ${code}`);
      if (error.code !== code) throw new Error(`${msg} refused with ${error.code}, expected ${code}`);
      return error;
    },
    /** `f` must throw an error of class `cls`. */
    async throws(f, cls, msg = "") {
      try {
        await f();
      } catch (e) {
        if (e instanceof cls) return e;
        throw new Error(`${msg} threw ${e}, expected ${cls.name}`);
      }
      throw new Error(`${msg} did not throw, expected ${cls.name}`);
    },
  };
  return t;
}

/** Every refusal rule is a vector (conformance.js); these cases test the API around them. */
export const cases = [
  ["info is the bytes of PROTOCOL.md §3", async (lib, t) => {
    t.equal(
      toHex(lib.info("n1_AAECAwQFBgcICQoLDA0ODw", "card:42/set-pin")),
      "6f6b326372792f763100" + "6e315f41414543417751464267634943516f4c4441304f4477" + "00" + "636172643a34322f7365742d70696e",
    );
    t.equal(toHex(lib.info("k", "")), "6f6b326372792f7631006b00", "no context: info ends with the second 0x00");
  }],

  ["the key token of the vector file verifies, and its fields are the claims", async (lib, t, { vectors }) => {
    const kt = vectors.key_token;
    const jwks = lib.Jwks.parse(JSON.stringify(kt.jwks));
    t.equal(jwks.size, kt.jwks.keys.length);
    const key = await lib.verifyKeyToken(` \n${kt.token}\r\n`, jwks, { now: kt.now });
    t.ok(key instanceof lib.VerifiedKey);
    t.equal(key.keyId, kt.claims.key_id);
    t.equal(key.context, kt.claims.context ?? "");
    t.equal(key.issuer, kt.claims.iss);
    t.equal(key.issuedAt, kt.claims.iat);
    t.equal(key.expiresAt, kt.claims.exp);
    t.equal(key.maxOpens, kt.claims.max_opens);
    t.equal(key.signingKid, kt.header.kid);
    t.equal(key.token, kt.token, "the token without its surrounding whitespace");
    t.equal(key.jwk.x, kt.claims.jwk.x);
    t.equal(key.publicKey.thumbprint, vectors.seal[kt.seal_vector].recipient_jwk_thumbprint);
    // A JWK set given as a parsed object is read by the same rules.
    await lib.verifyKeyToken(kt.token, lib.Jwks.parse(kt.jwks), { now: kt.now });
  }],

  ["a token is valid from iat - 60 s to exp - 1 s, and refused outside", async (lib, t, { vectors }) => {
    const kt = vectors.key_token;
    const jwks = lib.Jwks.parse(kt.jwks);
    await lib.verifyKeyToken(kt.token, jwks, { now: kt.claims.iat - 60 });
    await lib.verifyKeyToken(kt.token, jwks, { now: kt.claims.exp - 1 });
    await t.refuses(() => lib.verifyKeyToken(kt.token, jwks, { now: kt.claims.exp }), "Expired");
    await t.refuses(() => lib.verifyKeyToken(kt.token, jwks, { now: kt.claims.iat - 61 }), "NotYetValid");
    // The default is the clock: the vector token expired long ago.
    await t.refuses(() => lib.verifyKeyToken(kt.token, jwks), "Expired");
  }],

  ["a token signed by a key outside the JWK set is UnknownSigningKey", async (lib, t, { vectors }) => {
    const kt = vectors.key_token;
    const jwks = lib.Jwks.parse({ keys: [] });
    await t.refuses(() => lib.verifyKeyToken(kt.token, jwks, { now: kt.now }), "UnknownSigningKey");
  }],

  ["a VerifiedKey cannot be made except by verifying", async (lib, t, { vectors }) => {
    await t.throws(() => new lib.VerifiedKey(Symbol("VerifiedKey"), {}), TypeError);
    await t.throws(() => lib.VerifiedKey.fromVerified(Symbol("VerifiedKey"), {}), TypeError);
    await t.throws(() => new lib.LocalKey(Symbol("LocalKey"), undefined), TypeError);
    const kt = vectors.key_token;
    const real = await lib.verifyKeyToken(kt.token, lib.Jwks.parse(kt.jwks), { now: kt.now });
    // A look-alike object is not a verified key: seal refuses it.
    const fake = { ...real, keyId: real.keyId, context: "", publicKey: real.publicKey };
    await t.throws(() => lib.seal(fake, "1234"), TypeError);
    t.ok(Object.isFrozen(real), "a verified key cannot be changed");
  }],

  ["seal to a verified token: the recipient opens it, with the token's key id and context", async (lib, t, { vectors }) => {
    const kt = vectors.key_token;
    const v = vectors.seal[kt.seal_vector];
    const key = await lib.verifyKeyToken(kt.token, lib.Jwks.parse(kt.jwks), { now: kt.now });
    const envelope = await lib.seal(key, "1234");
    t.equal(envelope.keyId, key.keyId);
    t.equal(envelope.context, key.context || undefined);
    t.equal(envelope.sealed.length, 65 + 4 + 16);
    const recipient = await lib.PrivateKey.fromScalar(fromHex(v.skRm));
    const pt = await recipient.open(envelope, { keyId: key.keyId, context: key.context });
    t.equal(new TextDecoder().decode(pt), "1234");
    // Bound into info: another context does not open, coarsely.
    const raw = await t.refuses(
      () => recipient.openSealed(envelope.sealed, { keyId: key.keyId, context: "card:1/set-pin" }),
      "OpenFailed",
    );
    t.equal(raw.message, "OpenFailed: cannot open");
  }],

  ["plaintext is 1 to 65 536 bytes; a context at most 256 bytes", async (lib, t) => {
    const recipient = await lib.PrivateKey.generate();
    await t.refuses(() => lib.sealTo(recipient.publicKey, new Uint8Array(0)), "PlaintextSize");
    await t.refuses(() => lib.sealTo(recipient.publicKey, ""), "PlaintextSize");
    await t.refuses(() => lib.sealTo(recipient.publicKey, new Uint8Array(65537)), "PlaintextSize");
    const big = await lib.sealTo(recipient.publicKey, new Uint8Array(65536).fill(7));
    t.equal(big.sealed.length, lib.MAX_SEALED_LEN);
    const opened = await recipient.open(lib.Envelope.parse(big.toCompact()), { keyId: recipient.publicKey.thumbprint });
    t.equal(opened.length, 65536);
    const context = "é".repeat(128); // 256 bytes
    const e = await lib.sealTo(recipient.publicKey, "x", { context });
    t.equal(lib.Envelope.fromCompact(e.toCompact()).context, context);
    await t.refuses(() => lib.sealTo(recipient.publicKey, "x", { context: `${context}a` }), "ContextTooLong");
    await t.refuses(() => lib.sealTo(recipient.publicKey, "x", { keyId: "a.b" }), "InvalidKeyId");
  }],

  ["an envelope converts between its forms without loss; an empty context is none", async (lib, t, { vectors }) => {
    for (const v of vectors.seal) {
      const json = lib.Envelope.fromJson(v.envelope_json);
      t.equal(json.toCompact(), v.envelope_compact);
      t.equal(JSON.stringify(json), v.envelope_json, "JSON.stringify gives the JSON form");
      t.equal(lib.Envelope.parse(` ${v.envelope_compact}\n`).toJsonString(), v.envelope_json);
      t.equal(toHex(json.sealed), v.sealed);
    }
    const v = vectors.seal[0];
    const none = new lib.Envelope(v.key_id, fromHex(v.sealed), "");
    t.equal(none.context, undefined);
    t.ok(!("context" in none.toJSON()), "an empty context is omitted");
    t.equal(none.toCompact().split(".").length, 3);
    await t.refuses(() => new lib.Envelope(v.key_id, fromHex(v.sealed).slice(0, 81)), "Malformed");
    await t.refuses(() => new lib.Envelope("", fromHex(v.sealed)), "InvalidKeyId");
    // The sealed bytes are a copy: changing the caller's array changes nothing.
    const bytes = fromHex(v.sealed);
    const copy = new lib.Envelope(v.key_id, bytes);
    bytes[1] ^= 1;
    t.equal(toHex(copy.sealed), v.sealed);
  }],

  ["envelopes sealed by Python cryptography open (an implementation we did not write)", async (lib, t, { vectors, python }) => {
    t.ok(python.envelopes.length >= 4);
    for (const p of python.envelopes) {
      const v = vectors.seal[p.seal_vector];
      const key = await lib.PrivateKey.fromScalar(fromHex(v.skRm));
      const envelope = lib.Envelope.parse(JSON.stringify(p.envelope));
      const pt = await key.open(envelope, { keyId: v.key_id, context: v.context });
      t.equal(toHex(pt), p.plaintext);
    }
  }],

  ["a local key: key id is its thumbprint, it opens once, then it is gone", async (lib, t) => {
    const device = await lib.LocalKey.generate();
    const jwk = device.publicJwk();
    t.equal(jwk.kid, device.keyId);
    t.equal(jwk.use, "enc");
    t.equal(device.keyId, device.publicKey.thumbprint);
    t.equal(device.keyId.length, 43);
    // The card API receives the JWK as text and seals to it.
    const recipient = await lib.PublicKey.fromJwk(JSON.stringify(jwk));
    t.equal(recipient.keyId, device.keyId);
    const envelope = await lib.sealTo(recipient, "4111111111111111", { context: "card:42/reveal" });
    t.equal(envelope.keyId, device.keyId);
    // A text that does not parse is refused without touching the key.
    await t.refuses(() => device.open("v1.not-an-envelope"), "Malformed");
    t.ok(!device.destroyed);
    const pt = await device.open(envelope.toCompact(), { context: "card:42/reveal" });
    t.equal(new TextDecoder().decode(pt), "4111111111111111");
    t.ok(device.destroyed);
    await t.throws(() => device.open(envelope, { context: "card:42/reveal" }), lib.KeyUsedError);
  }],

  ["a local key is destroyed by a failed open too, and the failures are the spec's", async (lib, t) => {
    const device = await lib.LocalKey.generate();
    const other = await lib.LocalKey.generate();
    const elsewhere = await lib.sealTo(other.publicKey, "x");
    await t.refuses(() => device.open(elsewhere), "KeyIdMismatch");
    await t.throws(() => device.open(elsewhere), lib.KeyUsedError);

    const d2 = await lib.LocalKey.generate();
    const named = await lib.sealTo(d2.publicKey, "x", { context: "card:42/reveal" });
    await t.refuses(() => d2.open(named, { context: "card:1/reveal" }), "ContextMismatch");

    const d3 = await lib.LocalKey.generate();
    const sealed = await lib.sealTo(d3.publicKey, "x", { context: "card:42/reveal" });
    const unnamed = new lib.Envelope(sealed.keyId, sealed.sealed);
    await t.refuses(() => d3.open(unnamed, { context: "card:1/reveal" }), "OpenFailed");

    const d4 = await lib.LocalKey.generate();
    const ok = await lib.sealTo(d4.publicKey, "x");
    const tampered = Uint8Array.from(ok.sealed);
    tampered[tampered.length - 1] ^= 1;
    const e = await t.refuses(() => d4.open(new lib.Envelope(ok.keyId, tampered)), "OpenFailed");
    t.equal(e.message, "OpenFailed: cannot open", "decryption failures are coarse");
  }],

  ["no secret in a serialized form or an error message", async (lib, t, { vectors }) => {
    const device = await lib.LocalKey.generate();
    const json = JSON.stringify(device);
    t.ok(!json.includes('"d"'), `a local key serializes without its private part: ${json}`);
    t.equal(JSON.parse(json).key_id, device.keyId);
    const v = vectors.seal[0];
    const key = await lib.PrivateKey.fromScalar(fromHex(v.skRm));
    const text = JSON.stringify(key);
    t.ok(!text.includes('"d"') && !text.includes(v.skRm), "a private key serializes as its public key only");
    const e = await lib.sealTo(device.publicKey, "secret-pin-2468");
    const refused = await t.refuses(() => device.open(e, { context: "other" }), "OpenFailed");
    t.ok(!refused.message.includes("2468"));
  }],

  ["a private key from a JWK must match its public part", async (lib, t, { vectors }) => {
    const v = vectors.seal[2];
    const d = b64u(fromHex(v.skRm));
    const jwk = { ...v.recipient_jwk, d };
    const key = await lib.PrivateKey.fromJwk(JSON.stringify(jwk));
    t.equal(key.publicKey.thumbprint, v.recipient_jwk_thumbprint);
    const other = vectors.seal[0];
    await t.refuses(() => lib.PrivateKey.fromJwk({ ...other.recipient_jwk, d }), "InvalidPrivateKey");
    await t.refuses(() => lib.PrivateKey.fromJwk({ ...v.recipient_jwk, d: 1 }), "Malformed");
    await t.refuses(() => lib.PrivateKey.fromJwk({ ...v.recipient_jwk }), "Malformed");
    await t.refuses(() => lib.PrivateKey.fromJwk({ ...v.recipient_jwk, d: `${d}=` }), "InvalidPrivateKey");
    await t.refuses(() => lib.PrivateKey.fromScalar(new Uint8Array(31)), "InvalidPrivateKey");
    await t.refuses(() => lib.PrivateKey.fromScalar(new Uint8Array(32)), "InvalidPrivateKey", "zero");
    const n = fromHex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    await t.refuses(() => lib.PrivateKey.fromScalar(n), "InvalidPrivateKey", "the group order");
  }],

  ["an end user's JWK is read strictly (PROTOCOL.md §7.3, §8)", async (lib, t, { vectors }) => {
    const jwk = vectors.seal[0].recipient_jwk;
    const key = await lib.PublicKey.fromJwk(JSON.stringify({ ...jwk, kid: "ignored", use: "enc", ext: true, key_ops: [] }));
    t.equal(key.keyId, vectors.seal[0].recipient_jwk_thumbprint, "a kid sent along is ignored");
    await t.refuses(() => lib.PublicKey.fromJwk({ ...jwk, extra: 1 }), "Malformed");
    await t.refuses(() => lib.PublicKey.fromJwk({ ...jwk, kid: null }), "Malformed");
    await t.refuses(() => lib.PublicKey.fromJwk(`{"kty":"EC","kty":"EC","crv":"P-256","x":"${jwk.x}","y":"${jwk.y}"}`), "Malformed");
    await t.refuses(() => lib.PublicKey.fromJwk({ ...jwk, d: null }), "InvalidPublicKey");
    await t.refuses(() => lib.PublicKey.fromJwk({ ...jwk, crv: "P-384" }), "InvalidPublicKey");
    await t.refuses(() => lib.PublicKey.fromJwk({ ...jwk, x: `${jwk.x}=` }), "InvalidPublicKey");
    // Off the curve: the y of another point.
    await t.refuses(() => lib.PublicKey.fromJwk({ ...jwk, y: vectors.seal[1].recipient_jwk.y }), "InvalidPublicKey");
  }],

  ["strict JSON: duplicates, integers, depth, BOM, surrogates", async (lib, t, { vectors }) => {
    const v = vectors.seal[0];
    const env = JSON.parse(v.envelope_json);
    const body = `"key_id":"${env.key_id}","sealed":"${env.sealed}","context":"${env.context}"`;
    lib.Envelope.fromJson(`{"version":1,${body}}`);
    lib.Envelope.fromJson(utf8(`{"version":1,${body}}`));
    await t.refuses(() => lib.Envelope.fromJson(`{"version":1,"version":1,${body}}`), "Malformed", "duplicate");
    await t.refuses(() => lib.Envelope.fromJson(`{"version":1,"\\u0076ersion":1,${body}}`), "Malformed", "escaped duplicate");
    await t.refuses(() => lib.Envelope.fromJson(`{"version":1.0,${body}}`), "Malformed", "1.0");
    await t.refuses(() => lib.Envelope.fromJson(`{"version":-0,${body}}`), "Malformed", "-0");
    await t.refuses(() => lib.Envelope.fromJson(`{"version":2,${body}}`), "UnsupportedVersion");
    await t.refuses(() => lib.Envelope.fromJson(`{"version":9007199254740991,${body}}`), "UnsupportedVersion");
    await t.refuses(() => lib.Envelope.fromJson(`{"version":9007199254740992,${body}}`), "Malformed", "2^53");
    await t.refuses(() => lib.Envelope.fromJson(`\ufeff{"version":1,${body}}`), "Malformed", "BOM");
    await t.refuses(() => lib.Envelope.fromJson(Uint8Array.of(0xef, 0xbb, 0xbf, ...utf8(`{"version":1,${body}}`))), "Malformed", "BOM bytes");
    await t.refuses(() => lib.Envelope.fromJson(Uint8Array.of(...utf8(`{"version":1,${body},"x":"`), 0xff, 0x22, 0x7d)), "Malformed", "not UTF-8");
    await t.refuses(() => lib.Envelope.fromJson(`{"version":1,${body},"context":"\\ud800"}`), "Malformed", "lone surrogate");
    await t.refuses(() => lib.Envelope.fromJson(`{"version":1,${body}} x`), "Malformed", "trailing text");
    await t.refuses(() => lib.Envelope.fromJson(`{"version":1,${body},}`), "Malformed", "trailing comma");
    await t.refuses(() => lib.Envelope.fromJson(`{"version":1,"key_id":"${env.key_id}","sealed":"${env.sealed}","context":"a\tb"}`), "Malformed", "raw control character");
    // Nesting: 32 levels are read (and then refused as a member the envelope may not have), 33 are not JSON.
    const nest = (n) => "[".repeat(n) + "]".repeat(n);
    const at32 = await t.refuses(() => lib.Envelope.fromJson(`{"version":1,${body},"x":${nest(31)}}`), "Malformed");
    t.ok(at32.message.includes("members"), `32 levels read: ${at32.message}`);
    const at33 = await t.refuses(() => lib.Envelope.fromJson(`{"version":1,${body},"x":${nest(32)}}`), "Malformed");
    t.ok(at33.message.includes("deep"), `33 levels refused: ${at33.message}`);
    await t.refuses(() => lib.Envelope.fromJson(`{"version":1,${body},"x":${nest(100000)}}`), "Malformed", "very deep");
  }],

  ["strict base64url: no padding, no other alphabet, no whitespace, unused bits zero", async (lib, t, { vectors }) => {
    const v = vectors.seal[0];
    const [ver, id, sealed, ctx] = v.envelope_compact.split(".");
    const compact = (s, c = ctx) => [ver, id, s, c].join(".");
    lib.Envelope.fromCompact(compact(sealed));
    t.equal(sealed.length % 4, 2);
    await t.refuses(() => lib.Envelope.fromCompact(compact(`${sealed}==`)), "Malformed", "padding");
    await t.refuses(() => lib.Envelope.fromCompact(compact(sealed.replace(/-/g, "+").replace(/_/g, "/"))), "Malformed", "standard alphabet");
    await t.refuses(() => lib.Envelope.fromCompact(compact(`${sealed.slice(0, 40)}\n${sealed.slice(40)}`)), "Malformed", "line break");
    const last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".indexOf(sealed.at(-1));
    const bumped = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last + 1];
    await t.refuses(() => lib.Envelope.fromCompact(compact(sealed.slice(0, -1) + bumped)), "Malformed", "unused bits");
    await t.refuses(() => lib.Envelope.fromCompact(compact(sealed, "Y")), "Malformed", "length 1 mod 4");
    lib.Envelope.fromCompact(compact(sealed, ""));
  }],

  ["compact versions and whitespace are classified as PROTOCOL.md §5 says", async (lib, t, { vectors }) => {
    const v = vectors.seal[0];
    const rest = v.envelope_compact.slice(3);
    lib.Envelope.fromCompact(` \t\r\n${v.envelope_compact} \t\r\n`);
    await t.refuses(() => lib.Envelope.fromCompact(`\f${v.envelope_compact}`), "Malformed", "form feed");
    await t.refuses(() => lib.Envelope.fromCompact(`${v.envelope_compact}\u00a0`), "Malformed", "no-break space");
    await t.refuses(() => lib.Envelope.fromCompact(`v2.${rest}.x.y.z`), "UnsupportedVersion");
    await t.refuses(() => lib.Envelope.fromCompact(`v0.${rest}`), "UnsupportedVersion");
    await t.refuses(() => lib.Envelope.fromCompact(`v9007199254740992.${rest}`), "Malformed", "beyond 2^53 - 1");
    for (const bad of ["V1", "v01", "v", "1", "v1x", ""]) {
      await t.refuses(() => lib.Envelope.fromCompact(`${bad}.${rest}`), "Malformed", bad);
    }
    await t.refuses(() => lib.Envelope.fromCompact(`${v.envelope_compact}.x`), "Malformed", "five parts");
  }],

  ["the Ok2cry-Key and Ok2cry-Envelope headers, on fetch Headers and plain objects", async (lib, t, { vectors }) => {
    t.equal(lib.KEY_TOKEN_HEADER, "Ok2cry-Key");
    t.equal(lib.ENVELOPE_HEADER, "Ok2cry-Envelope");
    const v = vectors.seal[0];
    const envelope = lib.Envelope.fromJson(v.envelope_json);
    const headers = new Headers();
    lib.writeEnvelopeHeader(headers, envelope);
    t.equal(headers.get("ok2cry-envelope"), v.envelope_compact);
    t.equal(lib.readEnvelopeHeader(headers).toJsonString(), v.envelope_json);
    lib.writeKeyTokenHeader(headers, `${vectors.key_token.token}\n`);
    t.equal(lib.readKeyTokenHeader(headers), vectors.key_token.token);
    // Node's IncomingHttpHeaders: lower-case names.
    const plain = { "ok2cry-envelope": v.envelope_compact, "ok2cry-key": vectors.key_token.token };
    t.equal(lib.readEnvelopeHeader(plain).keyId, v.key_id);
    t.equal(lib.readKeyTokenHeader(plain), vectors.key_token.token);
    const out = { "OK2CRY-ENVELOPE": "old" };
    lib.writeEnvelopeHeader(out, envelope);
    t.equal(JSON.stringify(out), JSON.stringify({ "Ok2cry-Envelope": v.envelope_compact }), "one header, replaced");
    t.equal(lib.readEnvelopeHeader({}), undefined);
    t.equal(lib.readKeyTokenHeader(new Headers()), undefined);
    await t.refuses(() => lib.readEnvelopeHeader({ "ok2cry-envelope": `${v.envelope_compact}, ${v.envelope_compact}` }), "Malformed", "two values");
    await t.refuses(() => lib.writeKeyTokenHeader({}, "a b.c.d"), "Malformed");
  }],

  ["every error name of §11 is exported, and ProtocolError carries it", async (lib, t) => {
    t.equal(lib.ERROR_NAMES.length, 18);
    t.equal(lib.ERROR_NAMES.join(","), [
      "Malformed", "InvalidKeyId", "ContextTooLong", "PlaintextSize", "UnsupportedVersion", "UnsupportedSuite",
      "InvalidPublicKey", "InvalidPrivateKey", "UnsupportedAlgorithm", "WrongTokenType", "UnknownSigningKey",
      "BadSignature", "Expired", "NotYetValid", "KeyIdMismatch", "ContextMismatch", "OpenFailed", "SealFailed",
    ].join(","));
    const e = await t.refuses(() => lib.Envelope.parse("x"), "Malformed");
    t.ok(e instanceof Error);
    t.equal(e.name, "ProtocolError");
    t.ok(lib.isKeyId("n1_AAECAwQFBgcICQoLDA0ODw") && !lib.isKeyId("a.b") && !lib.isKeyId("x".repeat(129)));
  }],
];
