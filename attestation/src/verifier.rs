//! The verification procedure, in the order the checks run.
//!
//! 1. Parse: COSE_Sign1 (tag 18 optional), protected header exactly ES384, 96-byte signature,
//!    payload fields and limits, PCR digest SHA384 ([`AttestationDocument::parse`]).
//! 2. Certificate chain: pinned root fingerprint, algorithms, validity at `at`, signatures,
//!    CA constraints (see [`crate::certificate`]).
//! 3. Document signature: ES384 over the COSE Sig_structure with the leaf certificate's key.
//! 4. Policy: debug mode, expected PCRs, nonce, timestamp not in the future and not too old.
//!
//! Only after all four does a [`VerifiedAttestation`] exist.

use std::time::{Duration, SystemTime};

use p384::ecdsa::Signature;
use p384::ecdsa::signature::Verifier;
use subtle::ConstantTimeEq;

use crate::certificate::verify_chain;
use crate::document::AttestationDocument;
use crate::error::{AttestationError, Result};
use crate::policy::Policy;
use crate::verified::VerifiedAttestation;

/// Verifies COSE_Sign1 attestation bytes against `policy` at time `at`.
///
/// `at` is the time the certificates must be valid at and the reference for the timestamp
/// checks; there is no clock in here. A live relying party passes `SystemTime::now()`; a test or
/// an audit of an old document passes the document's own time.
pub fn verify(document: &[u8], policy: &Policy, at: SystemTime) -> Result<VerifiedAttestation> {
    AttestationDocument::parse(document)?.verify(policy, at)
}

pub(crate) fn verify_document(
    document: AttestationDocument,
    policy: &Policy,
    at: SystemTime,
) -> Result<VerifiedAttestation> {
    let AttestationDocument { cose, payload } = document;

    let leaf_key = verify_chain(&payload.cabundle, &payload.certificate, &policy.root, at)?;

    let signature =
        Signature::from_slice(&cose.signature).map_err(|_| AttestationError::DocumentSignature)?;
    leaf_key
        .verify(&cose.to_be_signed()?, &signature)
        .map_err(|_| AttestationError::DocumentSignature)?;

    let debug = match payload.pcrs.get(&0) {
        Some(pcr0) => pcr0.iter().all(|byte| *byte == 0),
        None => return Err(AttestationError::PcrMismatch { index: 0 }),
    };
    if debug && !policy.allow_debug {
        return Err(AttestationError::DebugEnclave);
    }
    for (index, expected) in &policy.expected_pcrs {
        let matches = payload
            .pcrs
            .get(index)
            .is_some_and(|actual| bool::from(actual.as_slice().ct_eq(expected.as_slice())));
        if !matches {
            return Err(AttestationError::PcrMismatch { index: *index });
        }
    }
    if let Some(expected) = &policy.nonce {
        let actual = payload
            .nonce
            .as_deref()
            .ok_or(AttestationError::NonceMissing)?;
        if !bool::from(actual.ct_eq(expected.as_slice())) {
            return Err(AttestationError::NonceMismatch);
        }
    }
    let made = SystemTime::UNIX_EPOCH + Duration::from_millis(payload.timestamp_ms);
    if made
        .duration_since(at)
        .is_ok_and(|ahead| ahead > policy.clock_skew)
    {
        return Err(AttestationError::TimestampInFuture);
    }
    if let Some(max_age) = policy.max_age
        && at.duration_since(made).is_ok_and(|age| age > max_age)
    {
        return Err(AttestationError::Stale);
    }

    Ok(VerifiedAttestation {
        module_id: payload.module_id,
        timestamp_ms: payload.timestamp_ms,
        pcrs: payload.pcrs,
        public_key: payload.public_key,
        user_data: payload.user_data,
        nonce: payload.nonce,
        debug,
    })
}
