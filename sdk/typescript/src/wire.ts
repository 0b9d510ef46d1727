// Rules shared by the text forms (docs/PROTOCOL.md §10.1 "Text").

/**
 * Removes the surrounding SP, HT, LF and CR of a compact envelope or a key token — those four
 * and nothing else (form feed, NEL, no-break space, a byte order mark… stay and make the text
 * malformed).
 */
export function trim(text: string): string {
  return text.replace(/^[ \t\n\r]+|[ \t\n\r]+$/g, "");
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The UTF-8 bytes of `text`. */
export function utf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

/** The text of UTF-8 `bytes`, or `undefined` when they are not UTF-8 (a BOM is kept). */
export function fromUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** The number of UTF-8 bytes of `text`. */
export function utf8Length(text: string): number {
  return utf8Encoder.encode(text).length;
}
