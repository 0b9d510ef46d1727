// Strict JSON, docs/PROTOCOL.md §10.1, for every JSON text of the protocol (envelope, token
// header and claims, JWK, JWK set).
//
// Two standard parsers do the reading; this module only combines what they report:
// - the platform's `JSON.parse` decides the grammar (RFC 8259: no comments, no trailing comma,
//   no control character in a string, nothing but SP/HT/LF/CR around the value);
// - @humanwhocodes/momoa gives the syntax tree that `JSON.parse` hides: every member of an
//   object (so a duplicate is seen), and where each number is written (so an integer is
//   told apart from `1.0`, `1e0` or `-0` and read exactly).
// The bytes are decoded as UTF-8 by the platform's `TextDecoder` (fatal, BOM kept, so a BOM is
// refused by the grammar).

import { parse as parseTree } from "@humanwhocodes/momoa";
import type { ValueNode } from "@humanwhocodes/momoa";
import { fail } from "./errors.js";
import { fromUtf8 } from "./wire.js";

/** §10.1: the largest integer of the protocol, 2^53 − 1. */
export const MAX_INTEGER = Number.MAX_SAFE_INTEGER;
/** §10.1 rule 4: the deepest nesting of arrays and objects (the outermost is level 1). */
export const MAX_DEPTH = 32;

/** A JSON value read by the rules of §10.1. */
export type Json =
  | { readonly kind: "object"; readonly members: ReadonlyMap<string, Json> }
  | { readonly kind: "array"; readonly items: readonly Json[] }
  | { readonly kind: "string"; readonly value: string }
  /** A number written `0` or `[1-9][0-9]*`, at most 2^53 − 1. */
  | { readonly kind: "integer"; readonly value: number }
  /** Any other number: negative, with a fraction or an exponent, or above 2^53 − 1. */
  | { readonly kind: "number" }
  | { readonly kind: "boolean"; readonly value: boolean }
  | { readonly kind: "null" };

const INTEGER = /^(0|[1-9][0-9]*)$/;

/**
 * Reads `input` (UTF-8 bytes, or text) as strict JSON: RFC 8259, no byte order mark, no member
 * name twice in an object at any depth, no unpaired surrogate, at most 32 levels. Refuses with
 * `Malformed` (naming `what`).
 */
export function readJson(input: string | Uint8Array, what: string): Json {
  const text = typeof input === "string" ? input : fromUtf8(input);
  // A JS string can hold a lone surrogate, which no UTF-8 text can.
  if (text === undefined || !text.isWellFormed()) fail("Malformed", `${what}: not UTF-8`);
  try {
    JSON.parse(text);
  } catch {
    fail("Malformed", `${what}: not JSON`);
  }
  let body: ValueNode;
  try {
    body = parseTree(text, { mode: "json", ranges: true }).body;
  } catch {
    // After JSON.parse accepted the text, momoa refuses it only when a nesting is deep enough
    // to exhaust the stack, which §10.1 refuses anyway.
    fail("Malformed", `${what}: not JSON`);
  }
  return convert(body, text, 0, what);
}

function convert(node: ValueNode, text: string, depth: number, what: string): Json {
  switch (node.type) {
    case "Object": {
      if (depth + 1 > MAX_DEPTH) fail("Malformed", `${what}: nested too deep`);
      const members = new Map<string, Json>();
      for (const member of node.members) {
        if (member.name.type !== "String") fail("Malformed", `${what}: not JSON`);
        const name = member.name.value;
        if (!name.isWellFormed()) fail("Malformed", `${what}: unpaired surrogate`);
        if (members.has(name)) fail("Malformed", `${what}: member ${JSON.stringify(name)} twice`);
        members.set(name, convert(member.value, text, depth + 1, what));
      }
      return { kind: "object", members };
    }
    case "Array": {
      if (depth + 1 > MAX_DEPTH) fail("Malformed", `${what}: nested too deep`);
      return { kind: "array", items: node.elements.map((e) => convert(e.value, text, depth + 1, what)) };
    }
    case "String":
      if (!node.value.isWellFormed()) fail("Malformed", `${what}: unpaired surrogate`);
      return { kind: "string", value: node.value };
    case "Number": {
      const range = node.range;
      if (range === undefined) fail("Malformed", `${what}: not JSON`);
      const written = text.slice(range[0], range[1]);
      if (INTEGER.test(written) && BigInt(written) <= BigInt(MAX_INTEGER)) {
        return { kind: "integer", value: Number(written) };
      }
      return { kind: "number" };
    }
    case "Boolean":
      return { kind: "boolean", value: node.value };
    case "Null":
      return { kind: "null" };
    default:
      return fail("Malformed", `${what}: not JSON`);
  }
}

/** The members of an object, or `undefined` for any other value. */
export function objectMembers(value: Json | undefined): ReadonlyMap<string, Json> | undefined {
  return value?.kind === "object" ? value.members : undefined;
}

/** The string, or `undefined` for any other value (or none). */
export function stringValue(value: Json | undefined): string | undefined {
  return value?.kind === "string" ? value.value : undefined;
}

/** The integer if it is one (§10.1 rule 6) and at most `max`, else `undefined`. */
export function integerValue(value: Json | undefined, max: number = MAX_INTEGER): number | undefined {
  return value?.kind === "integer" && value.value <= max ? value.value : undefined;
}

/** Whether `members` has no member outside `allowed`. */
export function onlyMembers(members: ReadonlyMap<string, Json>, allowed: readonly string[]): boolean {
  for (const name of members.keys()) if (!allowed.includes(name)) return false;
  return true;
}

/**
 * An optional string member: `undefined` when absent, `null` when present but not a string
 * (`null` included, §10.1 rule 5).
 */
export function optionalString(members: ReadonlyMap<string, Json>, name: string): string | null | undefined {
  if (!members.has(name)) return undefined;
  return stringValue(members.get(name)) ?? null;
}
