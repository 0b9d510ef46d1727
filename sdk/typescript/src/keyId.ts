// Key ids (docs/PROTOCOL.md §2): 1 to 128 characters of A–Z a–z 0–9 _ -.

import { fail } from "./errors.js";

/** The longest key id. */
export const MAX_KEY_ID_LEN = 128;

const KEY_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** Whether `value` is a key id of §2. */
export function isKeyId(value: unknown): value is string {
  return typeof value === "string" && KEY_ID.test(value);
}

/** `value` if it is a key id of §2, else `InvalidKeyId`. */
export function checkKeyId(value: unknown): string {
  if (!isKeyId(value)) fail("InvalidKeyId", "not a key id (1 to 128 of A-Z a-z 0-9 _ -)");
  return value;
}
