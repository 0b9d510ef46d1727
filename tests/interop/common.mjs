// Shared helpers of the interop scripts: argument parsing, strict base64url and JSON (from
// protocol.mjs), the ok2cry v1 suite and `info` construction. See README.md for each script's
// interface.
//
// Everything cryptographic is done by libraries we did not write: @hpke/core (RFC 9180 HPKE)
// and jose (JWS, JWK, RFC 7638 thumbprints). This file only encodes the ok2cry wire format.

import { readFileSync } from "node:fs";
import { strictBase64url } from "./protocol.mjs";
import {
  Aes256Gcm,
  CipherSuite,
  DhkemP256HkdfSha256,
  HkdfSha256,
} from "@hpke/core";

/** The one suite, "STRONG": DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM. */
export function strongSuite() {
  return new CipherSuite({
    kem: new DhkemP256HkdfSha256(),
    kdf: new HkdfSha256(),
    aead: new Aes256Gcm(),
  });
}

/** Length of `enc`: an uncompressed SEC1 P-256 point. */
export const ENC_LEN = 65;

/** info = "ok2cry/v1" || 0x00 || key_id || 0x00 || context (UTF-8). */
export function info(keyId, context) {
  const enc = new TextEncoder();
  const parts = [
    enc.encode("ok2cry/v1"),
    Uint8Array.of(0),
    enc.encode(keyId),
    Uint8Array.of(0),
    enc.encode(context ?? ""),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Unpadded base64url. */
export function b64u(bytes) {
  return Buffer.from(bytes).toString("base64url");
}

/**
 * Strict unpadded base64url decoding (docs/PROTOCOL.md §4.1): refuses padding, whitespace,
 * other characters and non-zero unused bits. The rule lives in protocol.mjs, which must also
 * run in a browser; every script uses that one implementation.
 */
export function unb64u(text, what) {
  const bytes = strictBase64url(text);
  if (bytes === null) throw new Error(`${what}: not strict unpadded base64url`);
  return bytes;
}

// Strict JSON (no duplicate members, exact integers: §10.1) and the whole v1 receiver.
export { receiver, strictBase64url, strictJson } from "./protocol.mjs";

/**
 * Command-line options `--name value`. A value `@path` is read from that file. An option not
 * given falls back to the environment variable OK2CRY_<NAME> (upper case, '-' as '_').
 */
export function options(spec) {
  const argv = process.argv.slice(2);
  const given = {};
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (!arg.startsWith("--")) throw new Error(`unexpected argument ${JSON.stringify(arg)}`);
    const name = arg.slice(2);
    if (!(name in spec)) throw new Error(`unknown option --${name}`);
    if (i + 1 >= argv.length) throw new Error(`--${name} needs a value`);
    given[name] = argv[i + 1];
    i += 1;
  }
  const out = {};
  for (const [name, required] of Object.entries(spec)) {
    const env = `OK2CRY_${name.toUpperCase().replaceAll("-", "_")}`;
    let value = given[name] ?? process.env[env];
    if (value !== undefined && value.startsWith("@")) {
      value = readFileSync(value.slice(1), "utf8");
    }
    if (value === undefined && required) {
      throw new Error(`missing --${name} (or ${env})`);
    }
    out[name] = value;
  }
  return out;
}

/** Runs `main`, prints its result as one line of JSON, and exits 1 with a message on error. */
export async function run(main) {
  try {
    const result = await main();
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (e) {
    // "error: <name>[ <code>]: <message>", e.g. "error: OpenError: …" or
    // "error: JWTExpired ERR_JWT_EXPIRED: …".
    const name = e?.name ?? "Error";
    const code = e?.code ? ` ${e.code}` : "";
    process.stderr.write(`error: ${name}${code}: ${e?.message ?? e}\n`);
    process.exitCode = 1;
  }
}
