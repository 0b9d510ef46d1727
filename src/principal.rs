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
