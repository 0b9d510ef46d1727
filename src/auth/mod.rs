//! Who is calling, and what they may do.

pub mod bearer;
pub mod pki;
pub mod principal;
pub mod tls;
