//! Plaintext: a secret type. It derives nothing (no Debug, Clone or Serialize) and is zeroized
//! on drop; its bytes are reached only through the greppable [`Plaintext::expose_secret`].

use zeroize::Zeroizing;

/// A decrypted message (a PIN, a card number…).
pub struct Plaintext(Zeroizing<Vec<u8>>);

impl Plaintext {
    /// Wraps bytes that are already secret.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Takes bytes already in a zeroizing buffer (no copy left behind).
    pub fn from_zeroizing(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }

    /// The secret bytes.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes (not secret).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the plaintext is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
