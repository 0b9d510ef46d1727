// The one suite, STRONG (docs/PROTOCOL.md §1), its limits (§6) and `info` (§3). HPKE is
// @hpke/core's, on the platform's WebCrypto.

import { Aes256Gcm, CipherSuite, DhkemP256HkdfSha256, HkdfSha256 } from "@hpke/core";
import { utf8 } from "./wire.js";

/** The suite's name, as key tokens carry it. */
export const SUITE = "STRONG";
/** The protocol version. */
export const VERSION = 1;
/** Length of `enc`: an uncompressed SEC1 P-256 point. */
export const ENC_LEN = 65;
/** Length of the AES-256-GCM tag. */
export const TAG_LEN = 16;
/** The largest plaintext, 64 KiB (§6); the smallest is one byte. */
export const MAX_PLAINTEXT_LEN = 65536;
/** The shortest sealed bytes: a one-byte plaintext. */
export const MIN_SEALED_LEN = ENC_LEN + 1 + TAG_LEN;
/** The longest sealed bytes. */
export const MAX_SEALED_LEN = ENC_LEN + MAX_PLAINTEXT_LEN + TAG_LEN;
/** The longest context, in UTF-8 bytes. */
export const MAX_CONTEXT_LEN = 256;
/** The longest key token, in bytes. */
export const MAX_TOKEN_LEN = 8192;
/** How far in the future a token's `iat` may be, in seconds. */
export const CLOCK_SKEW_SECONDS = 60;

const LABEL = utf8("ok2cry/v1");

let suite: CipherSuite | undefined;

/**
 * The HPKE suite: base mode, DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM (@hpke/core).
 */
export function strongSuite(): CipherSuite {
  suite ??= new CipherSuite({
    kem: new DhkemP256HkdfSha256(),
    kdf: new HkdfSha256(),
    aead: new Aes256Gcm(),
  });
  return suite;
}

/** info = "ok2cry/v1" ‖ 0x00 ‖ key_id ‖ 0x00 ‖ context (§3). */
export function info(keyId: string, context: string): Uint8Array {
  const id = utf8(keyId);
  const ctx = utf8(context);
  const out = new Uint8Array(LABEL.length + 1 + id.length + 1 + ctx.length);
  out.set(LABEL, 0);
  out.set(id, LABEL.length + 1);
  out.set(ctx, LABEL.length + 1 + id.length + 1);
  return out;
}
