//! Producers of attestation documents.
//!
//! - [`NsmProvider`] (cargo feature `nsm`): the real Nitro Secure Module, `/dev/nsm`, inside an
//!   enclave only.
//! - `DevProvider` (cargo feature `dev-provider`): **development only**, for machines without
//!   an enclave. Same document format, signed by a throw-away chain it makes itself; proves
//!   nothing, and a strict [`Policy`](crate::Policy) refuses its documents.

#[cfg(feature = "dev-provider")]
mod dev;
#[cfg(feature = "nsm")]
mod nsm;

#[cfg(feature = "dev-provider")]
pub use dev::DevProvider;
#[cfg(feature = "nsm")]
pub use nsm::NsmProvider;

use crate::error::Result;

/// Something that can produce a signed attestation document (COSE_Sign1 bytes).
///
/// Inputs follow the NSM's limits: `nonce` and `user_data` at most 512 bytes each,
/// `public_key` 1 to 1024 bytes. `None` leaves the field out (null in the document).
pub trait AttestationProvider: Send + Sync {
    /// Produces a document carrying the given nonce, user data and public key.
    fn attest(
        &self,
        nonce: Option<&[u8]>,
        user_data: Option<&[u8]>,
        public_key: Option<&[u8]>,
    ) -> Result<Vec<u8>>;
}

/// Checks provider inputs against the NSM limits, so the development provider refuses what the
/// real device would refuse.
pub(crate) fn check_inputs(
    nonce: Option<&[u8]>,
    user_data: Option<&[u8]>,
    public_key: Option<&[u8]>,
) -> Result<()> {
    use crate::document::{MAX_NONCE_LEN, MAX_PUBLIC_KEY_LEN, MAX_USER_DATA_LEN};
    use crate::error::AttestationError::InvalidInput;
    if nonce.is_some_and(|n| n.len() > MAX_NONCE_LEN) {
        return Err(InvalidInput("nonce longer than 512 bytes"));
    }
    if user_data.is_some_and(|u| u.len() > MAX_USER_DATA_LEN) {
        return Err(InvalidInput("user_data longer than 512 bytes"));
    }
    if public_key.is_some_and(|k| k.is_empty() || k.len() > MAX_PUBLIC_KEY_LEN) {
        return Err(InvalidInput("public_key not 1 to 1024 bytes"));
    }
    Ok(())
}
