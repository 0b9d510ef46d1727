//! The one error type of this crate.

use thiserror::Error;

/// Position of a certificate in the chain the verifier walks: `0` is the root, the last
/// position is the leaf. Nitro: `0` is `cabundle[0]` (the AWS root), the leaf the document's
/// `certificate`. SEV-SNP: `0` is the ARK, `1` the ASK, `2` the VCEK.
pub type ChainPosition = usize;

/// Everything that can go wrong while parsing, verifying or producing an attestation document.
///
/// Verification errors are specific on purpose: an attestation document is public data (it
/// contains no secret), so telling the relying party exactly which check failed leaks nothing
/// and makes operational problems (a stale PCR list, a clock that is off) quick to diagnose.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttestationError {
    /// The bytes are not a well-formed COSE_Sign1 / attestation payload (bad CBOR, a missing or
    /// mistyped field, a field outside the limits the Nitro Secure Module documents).
    #[error("malformed attestation document: {0}")]
    Malformed(&'static str),

    /// An algorithm this verifier does not accept: only ES384 for the COSE signature, only
    /// ecdsa-with-SHA384 over P-384 keys in the certificate chain, only the SHA384 PCR digest.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(&'static str),

    /// A certificate could not be decoded as strict DER X.509.
    #[error("certificate {position} is malformed: {reason}")]
    CertificateMalformed {
        /// Position in the chain (0 = root).
        position: ChainPosition,
        /// What was wrong.
        reason: &'static str,
    },

    /// The chain's root (`cabundle[0]`) is not the pinned root certificate.
    #[error("the certificate chain does not end at the pinned root")]
    UntrustedRoot,

    /// A certificate's issuer name is not its parent's subject name.
    #[error("certificate {position} was not issued by the certificate above it")]
    IssuerMismatch {
        /// Position in the chain (0 = root).
        position: ChainPosition,
    },

    /// A certificate's signature does not verify under its parent's key.
    #[error("certificate {position} has an invalid signature")]
    CertificateSignature {
        /// Position in the chain (0 = root).
        position: ChainPosition,
    },

    /// The verification time is before a certificate's notBefore.
    #[error("certificate {position} is not yet valid at the verification time")]
    CertificateNotYetValid {
        /// Position in the chain (0 = root).
        position: ChainPosition,
    },

    /// The verification time is after a certificate's notAfter.
    #[error("certificate {position} has expired at the verification time")]
    CertificateExpired {
        /// Position in the chain (0 = root).
        position: ChainPosition,
    },

    /// A certificate's extensions do not allow the role it has in the chain (an issuing
    /// certificate without CA basic constraints or keyCertSign, a path length exceeded, a CA
    /// leaf, an unknown critical extension).
    #[error("certificate {position} is not allowed in its place in the chain: {reason}")]
    CertificateConstraint {
        /// Position in the chain (0 = root).
        position: ChainPosition,
        /// Which constraint was violated.
        reason: &'static str,
    },

    /// The independent path validator (rustls-webpki) refused a chain that the positional walk
    /// accepted. Both must accept; `reason` is the validator's own.
    #[error(
        "the certification path validator ({validator}) refused the certificate chain: {reason}"
    )]
    ChainRejected {
        /// Which validator refused.
        validator: &'static str,
        /// Its reason.
        reason: String,
    },

    /// The COSE_Sign1 signature does not verify under the leaf certificate's key.
    #[error("the document signature is invalid")]
    DocumentSignature,

    /// A PCR differs from the value the policy expects (or is absent from the document).
    #[error("PCR{index} does not match the expected value")]
    PcrMismatch {
        /// The PCR index.
        index: u8,
    },

    /// The enclave runs in debug mode (PCR0 is all zeros) and the policy does not allow it.
    #[error("the enclave runs in debug mode (PCR0 is all zeros), which the policy refuses")]
    DebugEnclave,

    /// The policy requires a nonce and the document carries none.
    #[error("the document carries no nonce but the policy requires one")]
    NonceMissing,

    /// The document's nonce is not the one the policy expects.
    #[error("the document nonce does not match the expected nonce")]
    NonceMismatch,

    /// The document's timestamp is later than the verification time (beyond the allowed skew).
    #[error("the document timestamp is in the future")]
    TimestampInFuture,

    /// The document is older than the policy's maximum age.
    #[error("the document is older than the policy allows")]
    Stale,

    /// A binding check was asked for, but the document has no user_data.
    #[error("the document carries no user_data binding")]
    UserDataMissing,

    /// The document's user_data does not commit to the given key set.
    #[error("the document's user_data does not commit to this JWKS and audit key")]
    BindingMismatch,

    /// The given signing key thumbprint is not among the committed ones.
    #[error("the signing key is not committed in the attestation document")]
    KeyNotCommitted,

    /// The evidence is of a kind the verifier was given no policy for (an SEV-SNP report to a
    /// verifier configured for Nitro only, say).
    #[error("{0} evidence is not accepted by this verifier (no policy for it)")]
    PlatformNotAllowed(&'static str),

    /// An SEV-SNP report of a structure version this verifier does not know (it knows 2 to 5).
    #[error("SEV-SNP report version {0} is not supported (versions 2 to 5 are)")]
    UnsupportedReportVersion(u32),

    /// The SEV-SNP report was signed by a key other than the VCEK (a VLEK, or none).
    #[error(
        "the SEV-SNP report is signed by a {0}, not a VCEK; only VCEK-signed reports are supported"
    )]
    UnsupportedSigningKey(&'static str),

    /// The SEV-SNP report's signature does not verify under the VCEK.
    #[error("the SEV-SNP report signature does not verify under the VCEK")]
    ReportSignature,

    /// The report's chip id is zeros (the guest masked it), so it cannot be tied to a VCEK.
    #[error("the SEV-SNP report has a masked chip id (MASK_CHIP_ID), so no VCEK can be tied to it")]
    ChipIdMasked,

    /// The VCEK was issued for another chip than the one that made the report.
    #[error(
        "the VCEK belongs to another chip than the one that signed the report (chip id mismatch)"
    )]
    ChipIdMismatch,

    /// The VCEK was issued for another TCB than the report's REPORTED_TCB.
    #[error("the VCEK's {component} SPL does not match the report's REPORTED_TCB")]
    TcbMismatch {
        /// The TCB component (bootloader, tee, snp, microcode, fmc).
        component: &'static str,
    },

    /// The report's REPORTED_TCB is below the policy's minimum.
    #[error("the report's {component} SPL {actual} is below the minimum {minimum}")]
    TcbTooLow {
        /// The TCB component (bootloader, tee, snp, microcode, fmc).
        component: &'static str,
        /// The report's value.
        actual: u8,
        /// The policy's minimum.
        minimum: u8,
    },

    /// The certificates and the report name different AMD products (e.g. a Genoa VCEK under the
    /// Milan ARK, or a report whose CPUID says Turin).
    #[error("AMD product mismatch: {0}")]
    ProductMismatch(&'static str),

    /// The guest policy allows debugging (POLICY.DEBUG): the hypervisor can read and change the
    /// guest's memory. Refused unless the verification policy allows it.
    #[error("the SEV-SNP guest policy allows debugging (POLICY.DEBUG), which the policy refuses")]
    DebugGuest,

    /// The launch measurement is not one the policy expects.
    #[error("the SEV-SNP launch measurement is not one of the expected measurements")]
    MeasurementMismatch,

    /// The report's REPORT_DATA is not what the policy (or the binding) expects.
    #[error("the SEV-SNP REPORT_DATA does not match the expected value")]
    ReportDataMismatch,

    /// The report was requested at another VMPL than the policy requires.
    #[error(
        "the SEV-SNP report was requested at VMPL {actual}, the policy requires VMPL {expected}"
    )]
    VmplMismatch {
        /// The policy's VMPL.
        expected: u32,
        /// The report's VMPL.
        actual: u32,
    },

    /// An SEV-SNP VCEK certificate lacks an AMD extension or carries a malformed one.
    #[error("the VCEK certificate's {0} extension is missing or malformed")]
    VcekExtension(&'static str),

    /// An input is larger than its limit (nothing beyond the limit was read).
    #[error("the input is larger than its limit of {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },

    /// Reading the evidence failed (the message says why; it never contains evidence bytes).
    #[error("cannot read the evidence: {0}")]
    Io(String),

    /// An input to a provider or builder is outside its limits (the message says which).
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),

    /// The attestation provider failed (the NSM device, or the development chain generator).
    #[error("attestation provider failed: {0}")]
    Provider(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = AttestationError> = std::result::Result<T, E>;
