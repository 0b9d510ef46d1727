// A client of the ok2cry service for Node (docs/openapi.json), over node:https with a client
// certificate (mutual TLS). It trusts only the CA certificates it is given, never the
// platform's roots, speaks TLS 1.2 or later, and follows no redirect.
//
// Refusals by the service are RFC 9457 problem documents: they come back as ServiceError with
// the parsed problem. An opened plaintext is decoded from the response into a Uint8Array and
// the response buffer is wiped; wipe the plaintext (`fill(0)`) when done with it.

import { Agent, request } from "node:https";
import type { IncomingMessage } from "node:http";
import { ProtocolError } from "./errors.js";
import * as b64 from "./base64url.js";
import { Envelope } from "./envelope.js";
import { Jwks } from "./jwks.js";
import { checkKeyId, isKeyId } from "./keyId.js";
import { verifyKeyToken } from "./keyToken.js";
import type { VerifiedKey } from "./keyToken.js";
import type { PublicJwk } from "./publicKey.js";

/** The largest response body read. */
export const MAX_RESPONSE_LEN = 4 * 1024 * 1024;
/** The default timeout of one request, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** How long a fetched JWK set is used before it is fetched again, in milliseconds. */
export const DEFAULT_JWKS_MAX_AGE_MS = 300_000;

/** How to reach and authenticate to the service. */
export interface ClientOptions {
  /** The service's base URL, `https://…` (no query or fragment). */
  readonly baseUrl: string;
  /** The CA certificate(s) to trust, PEM: only these. */
  readonly ca: string | Uint8Array;
  /** The client certificate (chain), PEM. */
  readonly cert: string | Uint8Array;
  /** The client certificate's private key, PEM. */
  readonly key: string | Uint8Array;
  /** The timeout of one request in milliseconds (default 30 s). */
  readonly timeoutMs?: number;
  /** How long a fetched JWK set is used, in milliseconds (default 5 min). */
  readonly jwksMaxAgeMs?: number;
}

/** The body of `POST /v1/keys`; the service applies its defaults and bounds. */
export interface CreateKeyRequest {
  /** Lifetime in seconds. */
  readonly ttlSeconds?: number;
  /** How many envelopes the key opens. */
  readonly maxOpens?: number;
  /** The principal allowed to open (by default, the creator). */
  readonly opener?: string;
  /** The context bound into `info` (a card id and purpose, say). */
  readonly context?: string;
  /** A label for the audit log (not secret, not interpreted). */
  readonly label?: string;
}

/** A live key as the service describes it. Nothing here is verified: see `verifyToken`. */
export interface CreatedKey {
  readonly keyId: string;
  /** The key token (JWS compact): verify it before sealing. */
  readonly token: string;
  readonly jwk: PublicJwk;
  /** ISO 8601 UTC. */
  readonly createdAt: string;
  /** ISO 8601 UTC. */
  readonly expiresAt: string;
  readonly maxOpens: number;
  readonly opensRemaining: number;
  readonly opener: string | undefined;
}

/** An RFC 9457 problem document, as the service sends with every refusal. */
export interface Problem {
  readonly type?: string;
  readonly title?: string;
  readonly status?: number;
  readonly detail?: string;
  /** The docs/PROTOCOL.md §11 name, for refusals caused by a protocol error (§11.2). */
  readonly error?: string;
  /** 410: when the key was destroyed. */
  readonly destroyed_at?: string;
  /** 410: why (consumed, expired, revoked, failed_opens, …). */
  readonly reason?: string;
  /** 422: whether this failure used up the key's failed opens. */
  readonly key_destroyed?: boolean;
  readonly [member: string]: unknown;
}

/** The service answered with an error status. */
export class ServiceError extends Error {
  readonly status: number;
  readonly problem: Problem | undefined;
  /** `Retry-After` in seconds (429, 503), if sent. */
  readonly retryAfter: number | undefined;

  constructor(status: number, problem: Problem | undefined, retryAfter: number | undefined) {
    const text = problem?.detail ?? problem?.title;
    super(`service refused (${status})${text === undefined ? "" : `: ${text}`}`);
    this.name = "ServiceError";
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }

  /** Whether the key is gone: 410, or 404 (docs/PROTOCOL.md §11.3 treats them alike). */
  get isGone(): boolean {
    return this.status === 410 || this.status === 404;
  }
}

/** The request did not complete: connection, TLS handshake, timeout, reading the body. */
export class TransportError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = "TransportError";
  }
}

/** The response was not what the service's API says. */
export class InvalidResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidResponseError";
  }
}

interface Response {
  readonly status: number;
  readonly headers: IncomingMessage["headers"];
  readonly body: Buffer;
}

/** A client of the ok2cry service. Cheap to share; call `close()` when done. */
export class Ok2cryClient {
  readonly #base: URL;
  readonly #agent: Agent;
  readonly #timeoutMs: number;
  readonly #jwksMaxAgeMs: number;
  #jwks: { jwks: Jwks; fetched: number } | undefined;
  #jwksFetch: Promise<Jwks> | undefined;

  constructor(options: ClientOptions) {
    let base: URL;
    try {
      base = new URL(options.baseUrl.trim());
    } catch {
      throw new TypeError("baseUrl: not a URL");
    }
    if (base.protocol !== "https:") throw new TypeError("baseUrl: only https is supported");
    if (base.search !== "" || base.hash !== "") throw new TypeError("baseUrl: no query or fragment");
    if (!base.pathname.endsWith("/")) base.pathname += "/";
    this.#base = base;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#jwksMaxAgeMs = options.jwksMaxAgeMs ?? DEFAULT_JWKS_MAX_AGE_MS;
    const pem = (v: string | Uint8Array): string | Buffer => (typeof v === "string" ? v : Buffer.from(v));
    this.#agent = new Agent({
      keepAlive: true,
      // Only the CAs given: never the platform's roots.
      ca: pem(options.ca),
      cert: pem(options.cert),
      key: pem(options.key),
      minVersion: "TLSv1.2",
      rejectUnauthorized: true,
    });
  }

  /** `POST /v1/keys`: asks for a disposable key. */
  async createKey(req: CreateKeyRequest = {}): Promise<CreatedKey> {
    const body: Record<string, unknown> = {};
    if (req.ttlSeconds !== undefined) body.ttl_seconds = req.ttlSeconds;
    if (req.maxOpens !== undefined) body.max_opens = req.maxOpens;
    if (req.opener !== undefined) body.opener = req.opener;
    if (req.context !== undefined) body.context = req.context;
    if (req.label !== undefined) body.label = req.label;
    const r = await this.#send("POST", "v1/keys", JSON.stringify(body));
    return createdKey(jsonBody(r));
  }

  /** `GET /v1/keys/{keyId}`: a live key, with a freshly signed token. */
  async getKey(keyId: string): Promise<CreatedKey> {
    const r = await this.#send("GET", `v1/keys/${checkKeyId(keyId)}`);
    const key = createdKey(jsonBody(r));
    if (key.keyId !== keyId) throw new InvalidResponseError("the service described another key");
    return key;
  }

  /**
   * `POST /v1/keys/{keyId}/open`: has the service open `envelope` with the key (the caller
   * must be its designated opener). Returns the plaintext.
   */
  async open(keyId: string, envelope: Envelope | string): Promise<Uint8Array> {
    checkKeyId(keyId);
    const parsed = typeof envelope === "string" ? Envelope.parse(envelope) : envelope;
    const r = await this.#send("POST", `v1/keys/${keyId}/open`, JSON.stringify({ envelope: parsed.toJSON() }));
    try {
      const answer = jsonBody(r);
      if (answer.key_id !== keyId) throw new InvalidResponseError("open: the service answered for another key");
      if (answer.encoding !== "base64url") throw new InvalidResponseError("open: plaintext encoding is not base64url");
      const plaintext = typeof answer.plaintext === "string" ? b64.decode(answer.plaintext) : undefined;
      if (plaintext === undefined) throw new InvalidResponseError("open: plaintext is not base64url");
      return plaintext;
    } finally {
      r.body.fill(0);
    }
  }

  /** `DELETE /v1/keys/{keyId}`: destroys the key early. */
  async deleteKey(keyId: string): Promise<void> {
    await this.#send("DELETE", `v1/keys/${checkKeyId(keyId)}`);
  }

  /** The service's JWK set (`GET /.well-known/jwks.json`), cached for `jwksMaxAgeMs`. */
  async jwks(): Promise<Jwks> {
    const cached = this.#jwks;
    if (cached !== undefined && Date.now() - cached.fetched < this.#jwksMaxAgeMs) return cached.jwks;
    return await this.refreshJwks();
  }

  /** Fetches the JWK set again (one fetch at a time), and caches it. */
  async refreshJwks(): Promise<Jwks> {
    this.#jwksFetch ??= (async () => {
      try {
        const r = await this.#send("GET", ".well-known/jwks.json");
        checkJson(r);
        let jwks: Jwks;
        try {
          jwks = Jwks.parse(new Uint8Array(r.body));
        } catch (e) {
          throw e instanceof ProtocolError ? new InvalidResponseError(`JWK set: ${e.message}`) : e;
        }
        this.#jwks = { jwks, fetched: Date.now() };
        return jwks;
      } finally {
        this.#jwksFetch = undefined;
      }
    })();
    return await this.#jwksFetch;
  }

  /**
   * Verifies a key token against the service's JWK set now (docs/PROTOCOL.md §10.2). When
   * the token's signing key is not in the cached set (the service rotated its key), the set is
   * fetched once more; a kid still unknown is `UnknownSigningKey`.
   */
  async verifyToken(token: string): Promise<VerifiedKey> {
    const cached = await this.jwks();
    try {
      return await verifyKeyToken(token, cached);
    } catch (e) {
      if (!(e instanceof ProtocolError) || e.code !== "UnknownSigningKey") throw e;
      return await verifyKeyToken(token, await this.refreshJwks());
    }
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.#agent.destroy();
  }

  #send(method: string, path: string, body?: string): Promise<Response> {
    const url = new URL(path, this.#base);
    const headers: Record<string, string> = { accept: "application/json, application/problem+json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    return new Promise<Response>((resolve, reject) => {
      const req = request(url, { method, agent: this.#agent, headers, timeout: this.#timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let length = 0;
        res.on("data", (chunk: Buffer) => {
          length += chunk.length;
          if (length > MAX_RESPONSE_LEN) {
            res.destroy();
            reject(new InvalidResponseError("response too large"));
            return;
          }
          chunks.push(chunk);
        });
        res.on("error", (e) => reject(new TransportError(`reading the response: ${e.message}`, { cause: e })));
        res.on("end", () => {
          const all = Buffer.concat(chunks);
          for (const c of chunks) c.fill(0);
          const status = res.statusCode ?? 0;
          const response = { status, headers: res.headers, body: all };
          if (status >= 200 && status < 300) resolve(response);
          else reject(serviceError(response));
        });
      });
      req.on("timeout", () => req.destroy(new Error("timed out")));
      req.on("error", (e) => reject(new TransportError(`${method} ${url.pathname}: ${e.message}`, { cause: e })));
      req.end(body);
    });
  }
}

function checkJson(r: Response): void {
  const type = (r.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") throw new InvalidResponseError(`expected application/json, got ${type || "nothing"}`);
}

function jsonBody(r: Response): Record<string, unknown> {
  checkJson(r);
  let value: unknown;
  try {
    value = JSON.parse(r.body.toString("utf8"));
  } catch {
    throw new InvalidResponseError("the body is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidResponseError("the body is not a JSON object");
  }
  return value as Record<string, unknown>;
}

function createdKey(v: Record<string, unknown>): CreatedKey {
  const str = (name: string): string => {
    const x = v[name];
    if (typeof x !== "string") throw new InvalidResponseError(`key: ${name} is not a string`);
    return x;
  };
  const int = (name: string): number => {
    const x = v[name];
    if (!Number.isSafeInteger(x)) throw new InvalidResponseError(`key: ${name} is not an integer`);
    return x as number;
  };
  const keyId = str("key_id");
  if (!isKeyId(keyId)) throw new InvalidResponseError("key: key_id is not a key id");
  const jwk = v.jwk as Record<string, unknown> | undefined;
  if (jwk?.kty !== "EC" || jwk.crv !== "P-256" || typeof jwk.x !== "string" || typeof jwk.y !== "string") {
    throw new InvalidResponseError("key: jwk is not an EC P-256 JWK");
  }
  const opener = v.opener;
  return {
    keyId,
    token: str("token"),
    jwk: { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y },
    createdAt: str("created_at"),
    expiresAt: str("expires_at"),
    maxOpens: int("max_opens"),
    opensRemaining: int("opens_remaining"),
    opener: typeof opener === "string" ? opener : undefined,
  };
}

function serviceError(r: Response): ServiceError {
  let problem: Problem | undefined;
  const type = (r.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (type === "application/problem+json") {
    try {
      const value: unknown = JSON.parse(r.body.toString("utf8"));
      if (typeof value === "object" && value !== null && !Array.isArray(value)) problem = value as Problem;
    } catch {
      problem = undefined;
    }
  }
  const retry = Number(r.headers["retry-after"]);
  return new ServiceError(r.status, problem, Number.isSafeInteger(retry) && retry >= 0 ? retry : undefined);
}

