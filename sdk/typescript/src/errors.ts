// The errors of docs/PROTOCOL.md §11, and the few that are not protocol errors.

/** The names of docs/PROTOCOL.md §11.1, in the order of its table. */
export const ERROR_NAMES = [
  "Malformed",
  "InvalidKeyId",
  "ContextTooLong",
  "PlaintextSize",
  "UnsupportedVersion",
  "UnsupportedSuite",
  "InvalidPublicKey",
  "InvalidPrivateKey",
  "UnsupportedAlgorithm",
  "WrongTokenType",
  "UnknownSigningKey",
  "BadSignature",
  "Expired",
  "NotYetValid",
  "KeyIdMismatch",
  "ContextMismatch",
  "OpenFailed",
  "SealFailed",
] as const;

/** One of the error names of docs/PROTOCOL.md §11.1. */
export type ErrorName = (typeof ERROR_NAMES)[number];

/**
 * A refusal by the protocol's rules. `code` is the §11 name; the message says which rule, and
 * never holds a secret (no plaintext, no key material). Decryption failures are deliberately
 * coarse: every one of them is `OpenFailed` with the same message.
 */
export class ProtocolError extends Error {
  /** The docs/PROTOCOL.md §11 name of the refusal. */
  readonly code: ErrorName;

  constructor(code: ErrorName, detail: string) {
    super(`${code}: ${detail}`);
    this.name = "ProtocolError";
    this.code = code;
  }
}

/**
 * A local key was asked to open a second envelope. A local key opens once: the first `open`
 * that reaches the key (success or failure) destroys it.
 */
export class KeyUsedError extends Error {
  constructor() {
    super("this local key has already opened an envelope and is destroyed: make a new one");
    this.name = "KeyUsedError";
  }
}

/** Throws the refusal `code` with `detail` (which must name a rule, never a secret). */
export function fail(code: ErrorName, detail: string): never {
  throw new ProtocolError(code, detail);
}
