// Unpadded base64url exactly as docs/PROTOCOL.md §4.1 defines it. The codec is jose's
// (`jose.base64url`, which uses the platform's own base64); this module only adds the
// protocol's strictness around it: the 64 characters and no others, no padding, a length that
// is not 1 modulo 4, and zero unused bits — checked by re-encoding the decoded bytes and
// comparing with the text.

import { base64url } from "jose";

const ALPHABET = /^[A-Za-z0-9_-]*$/;

/** The unpadded base64url text of `bytes`. */
export function encode(bytes: Uint8Array): string {
  return base64url.encode(bytes);
}

/**
 * The bytes of `text` if it is exactly the unpadded base64url encoding of some bytes (§4.1),
 * else `undefined`. The empty text is zero bytes.
 */
export function decode(text: string): Uint8Array | undefined {
  if (typeof text !== "string" || !ALPHABET.test(text) || text.length % 4 === 1) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = base64url.decode(text);
  } catch {
    return undefined;
  }
  // Only the canonical text of the bytes is accepted: this refuses non-zero unused bits.
  return base64url.encode(bytes) === text ? bytes : undefined;
}
