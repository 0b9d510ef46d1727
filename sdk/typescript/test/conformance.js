// The conformance suite: tests/vectors/protocol-v1.json (docs/PROTOCOL.md §12) run through the
// package. It uses no Node API, so the same code runs in Node (conformance.test.js) and in
// Chromium (browser.test.js): the package's module is passed in.
//
// runConformance(lib, file) → { counts, outcomes, failures }
// - outcomes: one entry per case, "seal/<name>", "key_token", "must_pass/<name>",
//   "must_fail/<name>" → "ok" or the §11 name it was refused with (a must-pass case whose
//   result differs from the file's is "wrong result"; anything thrown that is not a
//   ProtocolError is "threw <name>"). The Rust test tests/sdk.rs compares these between
//   implementations.
// - failures: every case whose outcome is not the one the file names.

const fromHex = (text) => Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** The outcome of running `f`: "ok" when it returns true, the refusal's name otherwise. */
async function outcome(lib, f) {
  try {
    return (await f()) ? "ok" : "wrong result";
  } catch (e) {
    if (e instanceof lib.ProtocolError) return e.code;
    return `threw ${e?.name ?? typeof e}: ${e?.message ?? e}`;
  }
}

/** An open case (§12 "How to run a case", kind "open"): the plaintext. */
async function openCase(lib, c) {
  const key = await lib.PrivateKey.fromScalar(fromHex(c.opener_skR));
  const record = { keyId: c.opener_key_id, context: c.opener_context };
  if (c.form === "sealed_hex") return await key.openSealed(fromHex(c.input), record);
  const envelope = c.form === "json" ? lib.Envelope.fromJson(c.input) : lib.Envelope.fromCompact(c.input);
  return await key.open(envelope, record);
}

/** A token case (kind "token"): the verified key. */
async function tokenCase(lib, c, fileJwks) {
  const jwks = lib.Jwks.parse(c.jwks_json ?? JSON.stringify(fileJwks));
  return await lib.verifyKeyToken(c.token, jwks, { now: c.now });
}

export async function runConformance(lib, file) {
  const outcomes = {};
  const expected = {};
  const counts = { seal: 0, key_token: 0, must_pass: 0, must_fail: 0 };

  for (const v of file.seal) {
    counts.seal += 1;
    const name = `seal/${v.name}`;
    expected[name] = "ok";
    outcomes[name] = await outcome(lib, async () => {
      if (toHex(lib.info(v.key_id, v.context)) !== v.info) return false;
      const key = await lib.PrivateKey.fromScalar(fromHex(v.skRm));
      if (key.publicKey.thumbprint !== v.recipient_jwk_thumbprint) return false;
      const record = { keyId: v.key_id, context: v.context };
      // Both forms open to the plaintext, and convert into each other without loss.
      const json = lib.Envelope.fromJson(v.envelope_json);
      const compact = lib.Envelope.fromCompact(v.envelope_compact);
      if (json.toCompact() !== v.envelope_compact || compact.toJsonString() !== v.envelope_json) return false;
      for (const envelope of [json, compact]) {
        if (toHex(await key.open(envelope, record)) !== v.plaintext) return false;
      }
      // What this package seals to the same recipient opens to the same plaintext.
      const recipient = await lib.PublicKey.fromJwk(JSON.stringify(v.recipient_jwk));
      const ours = await lib.sealTo(recipient, fromHex(v.plaintext), record);
      return toHex(await key.open(lib.Envelope.parse(ours.toCompact()), record)) === v.plaintext;
    });
  }

  const t = file.key_token;
  counts.key_token = 1;
  expected.key_token = "ok";
  outcomes.key_token = await outcome(lib, async () => {
    const verified = await tokenCase(lib, { token: t.token, now: t.now }, t.jwks);
    return verified.keyId === t.verified_key_id && verified.context === t.verified_context &&
      verified.signingKid === t.header.kid && verified.expiresAt === t.claims.exp;
  });

  for (const c of file.must_pass) {
    counts.must_pass += 1;
    const name = `must_pass/${c.name}`;
    expected[name] = "ok";
    outcomes[name] = await outcome(lib, async () => {
      if (c.kind === "open") return toHex(await openCase(lib, c)) === c.plaintext;
      const verified = await tokenCase(lib, c, t.jwks);
      return verified.keyId === c.key_id && verified.context === c.context;
    });
  }

  for (const c of file.must_fail) {
    counts.must_fail += 1;
    const name = `must_fail/${c.name}`;
    expected[name] = c.error;
    outcomes[name] = await outcome(lib, async () => {
      if (c.kind === "open") await openCase(lib, c);
      else await tokenCase(lib, c, t.jwks);
      return true;
    });
  }

  const failures = Object.keys(expected)
    .filter((name) => outcomes[name] !== expected[name])
    .map((name) => `${name}: ${outcomes[name]}, expected ${expected[name]}`);
  return { counts, outcomes, expected, failures };
}
