//! What a relying party requires of a verified document beyond its signatures.
//!
//! [`Policy::strict`] pins the AWS Nitro root and refuses debug-mode enclaves; everything else
//! (expected PCRs, a nonce, a maximum age) is added explicitly. The escape hatches are named
//! `danger_*` so that they stand out in review.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::certificate::RootFingerprint;

/// How far a document's timestamp may be ahead of the verification time (clock skew between the
/// enclave host and the relying party).
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Verification policy. Build with [`Policy::strict`] and the `with_*`/`require_*` methods.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) root: RootFingerprint,
    pub(crate) expected_pcrs: BTreeMap<u8, Vec<u8>>,
    pub(crate) allow_debug: bool,
    pub(crate) nonce: Option<Vec<u8>>,
    pub(crate) max_age: Option<Duration>,
    pub(crate) clock_skew: Duration,
}

impl Policy {
    /// The AWS Nitro root pinned, debug-mode enclaves refused, no PCR, nonce or age requirement.
    pub fn strict() -> Self {
        Self {
            root: RootFingerprint::AWS_NITRO_ROOT_G1,
            expected_pcrs: BTreeMap::new(),
            allow_debug: false,
            nonce: None,
            max_age: None,
            clock_skew: DEFAULT_CLOCK_SKEW,
        }
    }

    /// Pins a different root (tests, or the development provider's root together with
    /// [`Policy::danger_allow_debug`]).
    pub fn with_root(mut self, root: RootFingerprint) -> Self {
        self.root = root;
        self
    }

    /// Requires PCR `index` to equal `value` (PCR0 enclave image, PCR1 kernel and bootstrap,
    /// PCR2 application, PCR8 signing certificate; any subset may be given). A PCR the document
    /// lacks is a mismatch.
    pub fn expect_pcr(mut self, index: u8, value: impl Into<Vec<u8>>) -> Self {
        self.expected_pcrs.insert(index, value.into());
        self
    }

    /// Requires the document's nonce to equal `nonce` (freshness: the relying party picks a
    /// random nonce per request). A missing nonce is refused.
    pub fn require_nonce(mut self, nonce: impl Into<Vec<u8>>) -> Self {
        self.nonce = Some(nonce.into());
        self
    }

    /// Refuses documents whose timestamp is more than `max_age` before the verification time.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Sets how far a document's timestamp may lie after the verification time (default 60 s).
    pub fn with_clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// Accepts debug-mode enclaves (PCR0 all zeros). Their memory can be read by the parent
    /// instance and their PCRs prove nothing about the code: **never** in production.
    pub fn danger_allow_debug(mut self) -> Self {
        self.allow_debug = true;
        self
    }

    /// The pinned root.
    pub fn root(&self) -> &RootFingerprint {
        &self.root
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self::strict()
    }
}
