// The forwarding headers (docs/PROTOCOL.md §9): `Ok2cry-Key` carries a key token,
// `Ok2cry-Envelope` a compact envelope. Proxies forward both untouched.

import { fail } from "./errors.js";
import { Envelope } from "./envelope.js";
import { trim } from "./wire.js";

/** The header that carries a key token (compact JWS). */
export const KEY_TOKEN_HEADER = "Ok2cry-Key";
/** The header that carries an envelope in compact form. */
export const ENVELOPE_HEADER = "Ok2cry-Envelope";

/**
 * Headers as the platforms hold them: a fetch `Headers`, or a plain object such as Node's
 * `IncomingHttpHeaders` / `OutgoingHttpHeaders` (names in any case).
 */
export type HeaderBag = Headers | Record<string, string | readonly string[] | number | undefined>;

function get(headers: HeaderBag, name: string): string | undefined {
  if (typeof Headers !== "undefined" && headers instanceof Headers) return headers.get(name) ?? undefined;
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() !== wanted || v === undefined) continue;
    if (Array.isArray(v)) values.push(...v.map(String));
    else values.push(String(v));
  }
  // Several values would be joined by ", ", which no token or envelope contains.
  return values.length === 0 ? undefined : values.join(", ");
}

function set(headers: HeaderBag, name: string, value: string): void {
  if (typeof Headers !== "undefined" && headers instanceof Headers) {
    headers.set(name, value);
    return;
  }
  const bag = headers as Record<string, unknown>;
  for (const k of Object.keys(bag)) if (k.toLowerCase() === name.toLowerCase()) delete bag[k];
  bag[name] = value;
}

/**
 * The key token of the `Ok2cry-Key` header, or `undefined` when there is none. It is not
 * verified here: verify it with `verifyKeyToken` before sealing to it.
 */
export function readKeyTokenHeader(headers: HeaderBag): string | undefined {
  const value = get(headers, KEY_TOKEN_HEADER);
  return value === undefined ? undefined : trim(value);
}

/** Sets the `Ok2cry-Key` header to a key token, unchanged. */
export function writeKeyTokenHeader(headers: HeaderBag, token: string): void {
  const value = trim(token);
  if (!/^[A-Za-z0-9_.-]+$/.test(value)) fail("Malformed", "key token: not a compact JWS");
  set(headers, KEY_TOKEN_HEADER, value);
}

/**
 * The envelope of the `Ok2cry-Envelope` header (compact form, read by §10.3 steps 1 to 6), or
 * `undefined` when there is none.
 */
export function readEnvelopeHeader(headers: HeaderBag): Envelope | undefined {
  const value = get(headers, ENVELOPE_HEADER);
  return value === undefined ? undefined : Envelope.fromCompact(value);
}

/** Sets the `Ok2cry-Envelope` header to the compact form of `envelope`. */
export function writeEnvelopeHeader(headers: HeaderBag, envelope: Envelope): void {
  set(headers, ENVELOPE_HEADER, envelope.toCompact());
}
