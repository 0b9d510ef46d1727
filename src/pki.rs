//! Dev PKI and onboarding (being written).
