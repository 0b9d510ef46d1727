// Shared helpers of the interop scripts: argument parsing and the output convention. The
// protocol itself — strict reading, the check order, `info`, sealing and opening — is the
// @ok2cry/client package's (sdk/typescript), which does all cryptography with @hpke/core and
// jose; protocol.mjs is the independent receiver the vector runs use (see README.md).

import { readFileSync } from "node:fs";

/** Unpadded base64url (Node's codec), for the scripts' own output. */
export function b64u(bytes) {
  return Buffer.from(bytes).toString("base64url");
}

/** Strict unpadded base64url of a command-line value: Node decodes, and the text must be canonical. */
export function unb64u(text, what) {
  const bytes = Buffer.from(text, "base64url");
  if (!/^[A-Za-z0-9_-]*$/.test(text) || bytes.toString("base64url") !== text) {
    throw new Error(`${what}: not strict unpadded base64url`);
  }
  return new Uint8Array(bytes);
}

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
    // "error: <name>[ <code>]: <message>", e.g. "error: ProtocolError OpenFailed: …" or
    // "error: JWTExpired ERR_JWT_EXPIRED: …".
    const name = e?.name ?? "Error";
    const code = e?.code ? ` ${e.code}` : "";
    process.stderr.write(`error: ${name}${code}: ${e?.message ?? e}\n`);
    process.exitCode = 1;
  }
}
