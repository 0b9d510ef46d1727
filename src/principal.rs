//! Principals: who is calling, and what they may do.
//!
//! A principal comes either from a verified client certificate (mTLS) or from a verified
//! bearer JWT; handlers see the same [`Principal`] either way.
//!
//! Identity from a certificate, in order of precedence: the first SAN URI, else the first SAN
//! DNS name, else the subject CN.

use serde::{Deserialize, Serialize};

/// What a principal may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May create keys.
    Issuer,
    /// May open envelopes (for keys that designate it).
    Opener,
    /// May read the audit log.
    Auditor,
}

/// A set of roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Roles(u8);

impl Roles {
    fn bit(role: Role) -> u8 {
        match role {
            Role::Issuer => 1,
            Role::Opener => 2,
            Role::Auditor => 4,
        }
    }
    /// Whether `role` is in the set.
    pub fn contains(&self, role: Role) -> bool {
        self.0 & Self::bit(role) != 0
    }
    /// Adds `role`.
    pub fn insert(&mut self, role: Role) {
        self.0 |= Self::bit(role);
    }
}

impl FromIterator<Role> for Roles {
    fn from_iter<I: IntoIterator<Item = Role>>(iter: I) -> Self {
        let mut roles = Roles::default();
        for r in iter {
            roles.insert(r);
        }
        roles
    }
}

/// How the principal authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A client certificate.
    Mtls,
    /// A bearer JWT.
    Jwt,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The principal id (e.g. `ok2cry://principal/card-api`).
    pub id: String,
    /// Its roles, from configuration.
    pub roles: Roles,
    /// How it authenticated.
    pub method: AuthMethod,
}

/// The identity a verified client certificate carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertIdentity {
    /// SAN URI, else SAN DNS, else subject CN.
    pub id: String,
    /// SHA-256 of the certificate's SubjectPublicKeyInfo (for pinning).
    pub spki_sha256: [u8; 32],
}

/// Why a verified identity is still refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrincipalError {
    /// The identity is not a configured principal.
    #[error("unknown principal")]
    Unknown,
    /// The certificate's key does not match the principal's pinned SPKI.
    #[error("certificate key does not match the pinned key for this principal")]
    PinMismatch,
}

struct Registered {
    roles: Roles,
    spki_pin: Option<[u8; 32]>,
}

/// The configured principals and their roles.
#[derive(Default)]
pub struct PrincipalRegistry {
    by_id: std::collections::HashMap<String, Registered>,
}

impl PrincipalRegistry {
    /// Adds a principal. `spki_pin` is the SHA-256 of the SubjectPublicKeyInfo it must use.
    pub fn insert(&mut self, id: impl Into<String>, roles: Roles, spki_pin: Option<[u8; 32]>) {
        self.by_id.insert(id.into(), Registered { roles, spki_pin });
    }

    /// The roles of `id`, if configured.
    pub fn roles(&self, id: &str) -> Option<Roles> {
        self.by_id.get(id).map(|r| r.roles)
    }

    /// Resolves a verified certificate identity to a principal, checking any SPKI pin in
    /// constant time.
    pub fn from_cert(&self, identity: &CertIdentity) -> Result<Principal, PrincipalError> {
        use subtle::ConstantTimeEq;
        let registered = self
            .by_id
            .get(&identity.id)
            .ok_or(PrincipalError::Unknown)?;
        if let Some(pin) = &registered.spki_pin
            && !bool::from(pin.ct_eq(&identity.spki_sha256))
        {
            return Err(PrincipalError::PinMismatch);
        }
        Ok(Principal {
            id: identity.id.clone(),
            roles: registered.roles,
            method: AuthMethod::Mtls,
        })
    }

    /// Resolves a verified JWT subject to a principal.
    pub fn from_jwt_subject(&self, sub: &str) -> Result<Principal, PrincipalError> {
        let registered = self.by_id.get(sub).ok_or(PrincipalError::Unknown)?;
        Ok(Principal {
            id: sub.to_owned(),
            roles: registered.roles,
            method: AuthMethod::Jwt,
        })
    }
}
