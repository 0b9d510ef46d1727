//! Principals: who is calling, and what they may do.
//!
//! A principal comes either from a verified client certificate (mTLS) or from a verified
//! bearer JWT; handlers see the same [`Principal`] either way.
//!
//! # Identity from a certificate
//!
//! [`identity_from_cert`] reads the leaf certificate of a verified chain. The identity is, in
//! order of precedence:
//!
//! 1. the first SAN URI (ok2cry issues `ok2cry://principal/<name>`),
//! 2. else the first SAN DNS name,
//! 3. else the first subject CN.
//!
//! A lower source is used only when no higher one is present at all: a certificate with a SAN
//! URI is known by that URI whatever its DNS names and CN say. A certificate whose SAN
//! extension is malformed or duplicated is refused rather than falling back to the CN, and an
//! empty name is never an identity.
//!
//! The identity also carries the SHA-256 of the certificate's SubjectPublicKeyInfo (DER), for
//! optional SPKI pinning per principal ([`PrincipalRegistry::insert`]).
//!
//! The identity is only as good as the chain verification before it: call this on a
//! certificate the TLS layer has verified (see `crate::auth::tls::peer_identity`).
//!
//! Layer: auth. Owns identities and roles; it must not know keys or routes, nor import
//! `auth::pki` (which uses its roles).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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

impl Role {
    /// The configuration name of the role (`issuer`, `opener`, `auditor`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Issuer => "issuer",
            Role::Opener => "opener",
            Role::Auditor => "auditor",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
    /// The roles in the set, in the order issuer, opener, auditor.
    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        [Role::Issuer, Role::Opener, Role::Auditor]
            .into_iter()
            .filter(|r| self.contains(*r))
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
    /// The principal may not connect from the connection's source address.
    #[error("this principal may not connect from this address")]
    SourceRefused,
}

/// Where a principal may connect from: CIDR ranges, matched on the connection's peer address
/// (IPv4-mapped IPv6 addresses as IPv4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList(Vec<ipnet::IpNet>);

impl AllowList {
    /// Parses CIDR ranges (`10.0.0.0/8`, `2001:db8::/32`; a bare address is a single host).
    pub fn parse(ranges: &[String]) -> Result<Self, String> {
        let mut out = Vec::new();
        for r in ranges {
            let net = r
                .parse::<ipnet::IpNet>()
                .or_else(|_| r.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("{r:?} is not a CIDR range or an IP address"))?;
            if net.trunc() != net {
                return Err(format!(
                    "{r:?} has host bits set; did you mean {}?",
                    net.trunc()
                ));
            }
            out.push(net);
        }
        if out.is_empty() {
            return Err("an empty allow list would refuse every connection".into());
        }
        Ok(Self(out))
    }

    /// Whether `addr` is in a range.
    pub fn allows(&self, addr: std::net::IpAddr) -> bool {
        let addr = match addr {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, std::net::IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|net| net.contains(&addr))
    }
}

/// A certificate carries no usable identity (no SAN URI, SAN DNS name or subject CN), or is
/// not a certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("certificate carries no usable identity: {0}")]
pub struct IdentityError(pub String);

/// The identity of a DER leaf certificate (precedence in the [module docs](self)).
pub fn identity_from_cert(der: &[u8]) -> Result<CertIdentity, IdentityError> {
    use x509_parser::extensions::GeneralName;
    let bad = |e: &dyn std::fmt::Display| IdentityError(e.to_string());
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| bad(&e))?;
    let san = cert.subject_alternative_name().map_err(|e| bad(&e))?;
    let names = san.map(|s| s.value.general_names.as_slice()).unwrap_or(&[]);
    let uri = names.iter().find_map(|n| match n {
        GeneralName::URI(u) => Some(*u),
        _ => None,
    });
    let dns = names.iter().find_map(|n| match n {
        GeneralName::DNSName(d) => Some(*d),
        _ => None,
    });
    let id = match uri.or(dns) {
        Some(name) => name.to_owned(),
        None => match cert.subject().iter_common_name().next() {
            Some(cn) => cn
                .as_str()
                .map_err(|_| IdentityError("subject CN is not a string".into()))?
                .to_owned(),
            None => return Err(IdentityError("no SAN URI, SAN DNS name or CN".into())),
        },
    };
    if id.is_empty() {
        return Err(IdentityError("empty name".into()));
    }
    Ok(CertIdentity {
        id,
        spki_sha256: Sha256::digest(cert.public_key().raw).into(),
    })
}

struct Registered {
    roles: Roles,
    spki_pin: Option<[u8; 32]>,
    allow: Option<AllowList>,
}

/// The configured principals and their roles.
#[derive(Default)]
pub struct PrincipalRegistry {
    by_id: std::collections::HashMap<String, Registered>,
}

impl PrincipalRegistry {
    /// Adds a principal. `spki_pin` is the SHA-256 of the SubjectPublicKeyInfo it must use.
    pub fn insert(&mut self, id: impl Into<String>, roles: Roles, spki_pin: Option<[u8; 32]>) {
        self.by_id.insert(
            id.into(),
            Registered {
                roles,
                spki_pin,
                allow: None,
            },
        );
    }

    /// Restricts principal `id` (already inserted) to source addresses in `allow`.
    pub fn restrict(&mut self, id: &str, allow: AllowList) {
        if let Some(r) = self.by_id.get_mut(id) {
            r.allow = Some(allow);
        }
    }

    fn check_source(
        registered: &Registered,
        peer: Option<std::net::IpAddr>,
    ) -> Result<(), PrincipalError> {
        match (&registered.allow, peer) {
            (None, _) => Ok(()),
            (Some(list), Some(addr)) if list.allows(addr) => Ok(()),
            // Restricted, and the address is outside the list or unknown: refused.
            (Some(_), _) => Err(PrincipalError::SourceRefused),
        }
    }

    /// The roles of `id`, if configured.
    pub fn roles(&self, id: &str) -> Option<Roles> {
        self.by_id.get(id).map(|r| r.roles)
    }

    /// Resolves a verified certificate identity to a principal, checking any SPKI pin in
    /// constant time.
    /// `peer` is the connection's source address, checked against the principal's allow list.
    pub fn from_cert(
        &self,
        identity: &CertIdentity,
        peer: Option<std::net::IpAddr>,
    ) -> Result<Principal, PrincipalError> {
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
        Self::check_source(registered, peer)?;
        Ok(Principal {
            id: identity.id.clone(),
            roles: registered.roles,
            method: AuthMethod::Mtls,
        })
    }

    /// Resolves a verified JWT subject to a principal, checking its allow list on `peer`.
    pub fn from_jwt_subject(
        &self,
        sub: &str,
        peer: Option<std::net::IpAddr>,
    ) -> Result<Principal, PrincipalError> {
        let registered = self.by_id.get(sub).ok_or(PrincipalError::Unknown)?;
        Self::check_source(registered, peer)?;
        Ok(Principal {
            id: sub.to_owned(),
            roles: registered.roles,
            method: AuthMethod::Jwt,
        })
    }
}

#[cfg(test)]
mod allow_list_tests {
    use super::*;
    use std::net::IpAddr;

    fn list(ranges: &[&str]) -> Result<AllowList, String> {
        AllowList::parse(&ranges.iter().map(|r| r.to_string()).collect::<Vec<_>>())
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_match_v4_v6_and_mapped_addresses() {
        let l = list(&["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]).unwrap();
        assert!(l.allows(ip("10.1.2.3")));
        assert!(l.allows(ip("192.0.2.7")));
        assert!(!l.allows(ip("192.0.2.8")));
        assert!(l.allows(ip("2001:db8::1")));
        assert!(!l.allows(ip("2001:db9::1")));
        // An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d.
        assert!(l.allows(ip("::ffff:10.9.9.9")));
        assert!(!l.allows(ip("::ffff:11.0.0.1")));
        assert!(!l.allows(ip("127.0.0.1")));
    }

    #[test]
    fn bad_lists_are_refused_at_start() {
        assert!(list(&[]).is_err());
        assert!(list(&["10.0.0.1/8"]).unwrap_err().contains("10.0.0.0/8"));
        assert!(list(&["10.0.0.0/33"]).is_err());
        assert!(list(&["example.com"]).is_err());
    }

    #[test]
    fn a_restricted_principal_needs_an_address_inside_its_list() {
        let mut r = PrincipalRegistry::default();
        let roles: Roles = [Role::Issuer].into_iter().collect();
        r.insert("p", roles, None);
        r.insert("free", roles, None);
        r.restrict("p", list(&["127.0.0.0/8"]).unwrap());
        assert!(r.from_jwt_subject("p", Some(ip("127.0.0.1"))).is_ok());
        assert_eq!(
            r.from_jwt_subject("p", Some(ip("10.0.0.1"))),
            Err(PrincipalError::SourceRefused)
        );
        // No address known: refused, never waved through.
        assert_eq!(
            r.from_jwt_subject("p", None),
            Err(PrincipalError::SourceRefused)
        );
        assert!(r.from_jwt_subject("free", None).is_ok());
    }
}
