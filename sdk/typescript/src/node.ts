// @ok2cry/client/node — everything of "@ok2cry/client", and the Node client of the service
// (client certificates over node:https).

export * from "./index.js";
export {
  DEFAULT_JWKS_MAX_AGE_MS,
  DEFAULT_TIMEOUT_MS,
  InvalidResponseError,
  MAX_RESPONSE_LEN,
  Ok2cryClient,
  ServiceError,
  TransportError,
} from "./client.js";
export type { ClientOptions, CreateKeyRequest, CreatedKey, Problem } from "./client.js";
