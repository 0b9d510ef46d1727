//! The one error type of `ok2cry-client`.
//!
//! Messages say what was wrong with the input and never carry key material or plaintext.
//! Decryption failures are deliberately coarse: [`Error::OpenFailed`] does not say whether the
//! tag, the encapsulated key or the info was at fault.
//!
//! Every module of the crate uses this one, so it imports from the crate only the private
//! `params` module (the limits its messages quote), never `suite` or any other module above it.

/// Everything that can go wrong in protocol v1.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The input is not well formed; the text says which part.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// A key id is empty, too long or uses characters outside `[A-Za-z0-9_-]`.
    #[error("invalid key id: 1 to 128 characters of A-Z, a-z, 0-9, '_' or '-' are allowed")]
    InvalidKeyId,
    /// A context is longer than [`crate::suite::MAX_CONTEXT_LEN`] bytes.
    #[error("context too long: at most {max} bytes", max = crate::params::MAX_CONTEXT_LEN)]
    ContextTooLong,
    /// A plaintext is empty or longer than [`crate::suite::MAX_PLAINTEXT_LEN`] bytes.
    #[error("plaintext must be 1 to {max} bytes", max = crate::params::MAX_PLAINTEXT_LEN)]
    PlaintextSize,
    /// The protocol version is not 1.
    #[error("unsupported protocol version")]
    UnsupportedVersion,
    /// The suite named is not "STRONG".
    #[error("unsupported suite")]
    UnsupportedSuite,
    /// A public key is not a valid P-256 point (off-curve, identity, wrong length or encoding),
    /// or a JWK is not an EC P-256 public key.
    #[error("invalid public key")]
    InvalidPublicKey,
    /// A private key is not a valid P-256 scalar.
    #[error("invalid private key")]
    InvalidPrivateKey,
    /// The token's `alg` is not ES256 (e.g. none, HS256, ES384).
    #[error("unsupported token algorithm: only ES256 is accepted")]
    UnsupportedAlgorithm,
    /// The token's `typ` is not `ok2cry-key+jwt`.
    #[error("wrong token type")]
    WrongTokenType,
    /// The token's `kid` names no usable key of the JWK set given (absent, carried by more than
    /// one entry, or that entry is not an ES256 P-256 public signing key).
    #[error("unknown signing key")]
    UnknownSigningKey,
    /// The token signature does not verify.
    #[error("bad token signature")]
    BadSignature,
    /// The token (or the key it carries) has expired.
    #[error("key token expired")]
    Expired,
    /// The token's `iat` is in the future beyond the allowed clock skew.
    #[error("key token issued in the future")]
    NotYetValid,
    /// The envelope is for another key id.
    #[error("envelope is for another key")]
    KeyIdMismatch,
    /// The envelope names another context than the one expected.
    #[error("envelope context does not match")]
    ContextMismatch,
    /// Opening failed (deliberately coarse).
    #[error("cannot open envelope")]
    OpenFailed,
    /// Sealing failed (the recipient key was refused by the KEM).
    #[error("cannot seal to this key")]
    SealFailed,
    /// The cryptographic library failed (random source, internal error). Says nothing more.
    #[error("cryptographic operation failed")]
    Crypto,
}

impl Error {
    /// The error's name in docs/PROTOCOL.md §11 and in the vector file (`Malformed`,
    /// `OpenFailed`, …): the same in every implementation, so it can travel in a problem
    /// document or a log line. [`Error::Crypto`] has no protocol name; it is `Internal`.
    pub fn name(&self) -> &'static str {
        match self {
            Error::Malformed(_) => "Malformed",
            Error::InvalidKeyId => "InvalidKeyId",
            Error::ContextTooLong => "ContextTooLong",
            Error::PlaintextSize => "PlaintextSize",
            Error::UnsupportedVersion => "UnsupportedVersion",
            Error::UnsupportedSuite => "UnsupportedSuite",
            Error::InvalidPublicKey => "InvalidPublicKey",
            Error::InvalidPrivateKey => "InvalidPrivateKey",
            Error::UnsupportedAlgorithm => "UnsupportedAlgorithm",
            Error::WrongTokenType => "WrongTokenType",
            Error::UnknownSigningKey => "UnknownSigningKey",
            Error::BadSignature => "BadSignature",
            Error::Expired => "Expired",
            Error::NotYetValid => "NotYetValid",
            Error::KeyIdMismatch => "KeyIdMismatch",
            Error::ContextMismatch => "ContextMismatch",
            Error::OpenFailed => "OpenFailed",
            Error::SealFailed => "SealFailed",
            Error::Crypto => "Internal",
        }
    }
}
