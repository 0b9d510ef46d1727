//! HTTP header names used to forward keys and envelopes through proxies untouched.

/// Carries a key token (JWS compact).
pub const KEY_TOKEN: &str = "Ok2cry-Key";
/// Carries an envelope in its compact form.
pub const ENVELOPE: &str = "Ok2cry-Envelope";
