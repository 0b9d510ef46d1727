//! How a target with more than one mode reads its input: the first byte picks the mode.
//!
//! Owns: that split, nothing else. Imports nothing of the crate: every target uses it, and
//! `lib.rs` (which names every target) must not be imported by them.

/// Splits `data` into its first byte (the mode) and the rest; `None` for empty input.
pub(crate) fn mode(data: &[u8]) -> Option<(u8, &[u8])> {
    data.split_first().map(|(m, rest)| (*m, rest))
}
