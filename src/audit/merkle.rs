//! RFC 9162 (RFC 6962) Merkle tree hashing, inclusion and consistency proofs.
//!
//! `leaf = SHA-256(0x00 || data)`, `node = SHA-256(0x01 || left || right)`; the tree over
//! `n` leaves splits at the largest power of two smaller than `n` (RFC 9162 §2.1.1). Proof
//! generation follows §2.1.3.1 / §2.1.4.1, verification §2.1.3.2 / §2.1.4.2.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// Hash of a leaf's data.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// Hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The hash of the empty tree.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

fn split(n: usize) -> usize {
    // Largest power of two strictly smaller than n (n >= 2).
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// MTH over leaf hashes.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// Where proofs get their hashes: the Merkle Tree Hash of a range of leaves.
///
/// The proof algorithms below only ask for ranges `[start, end)` that are subtrees of the
/// RFC 9162 tree: `start` is a multiple of the largest power of two not above `end - start`.
/// A log on disk answers from its stored tiles; a slice of leaf hashes answers directly.
pub trait TreeSource {
    /// Why a hash could not be read.
    type Error;
    /// MTH(D[start..end]).
    fn range_hash(&self, start: u64, end: u64) -> Result<Hash, Self::Error>;
}

impl TreeSource for [Hash] {
    type Error = std::convert::Infallible;
    fn range_hash(&self, start: u64, end: u64) -> Result<Hash, Self::Error> {
        Ok(root(&self[start as usize..end as usize]))
    }
}

fn split64(n: u64) -> u64 {
    // Largest power of two strictly smaller than n (n >= 2).
    1 << (63 - (n - 1).leading_zeros())
}

/// The inclusion proof of leaf `index` in the tree of the first `size` leaves of `src`
/// (RFC 9162 §2.1.3.1); `None` when `index >= size`.
pub fn inclusion_proof_in<S: TreeSource + ?Sized>(
    index: u64,
    size: u64,
    src: &S,
) -> Result<Option<Vec<Hash>>, S::Error> {
    if index >= size {
        return Ok(None);
    }
    let mut proof = Vec::new();
    path_in(index, 0, size, src, &mut proof)?;
    Ok(Some(proof))
}

fn path_in<S: TreeSource + ?Sized>(
    m: u64,
    start: u64,
    end: u64,
    src: &S,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split64(n);
    if m < k {
        path_in(m, start, start + k, src, out)?;
        out.push(src.range_hash(start + k, end)?);
    } else {
        path_in(m - k, start + k, end, src, out)?;
        out.push(src.range_hash(start, start + k)?);
    }
    Ok(())
}

/// The consistency proof from the tree of the first `old` leaves to the tree of the first
/// `new` leaves of `src` (RFC 9162 §2.1.4.1); `None` unless `0 < old <= new`.
pub fn consistency_proof_in<S: TreeSource + ?Sized>(
    old: u64,
    new: u64,
    src: &S,
) -> Result<Option<Vec<Hash>>, S::Error> {
    if old == 0 || old > new {
        return Ok(None);
    }
    let mut proof = Vec::new();
    if old < new {
        subproof_in(old, 0, new, true, src, &mut proof)?;
    }
    Ok(Some(proof))
}

fn subproof_in<S: TreeSource + ?Sized>(
    m: u64,
    start: u64,
    end: u64,
    complete: bool,
    src: &S,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if m == n {
        if !complete {
            out.push(src.range_hash(start, end)?);
        }
        return Ok(());
    }
    let k = split64(n);
    if m <= k {
        subproof_in(m, start, start + k, complete, src, out)?;
        out.push(src.range_hash(start + k, end)?);
    } else {
        subproof_in(m - k, start + k, end, false, src, out)?;
        out.push(src.range_hash(start, start + k)?);
    }
    Ok(())
}

/// The inclusion proof of leaf `index` in the tree of `leaves`.
pub fn inclusion_proof(index: usize, leaves: &[Hash]) -> Option<Vec<Hash>> {
    let Ok(proof) = inclusion_proof_in(index as u64, leaves.len() as u64, leaves);
    proof
}

/// The consistency proof between the tree of the first `old` leaves and the tree of `leaves`.
pub fn consistency_proof(old: usize, leaves: &[Hash]) -> Option<Vec<Hash>> {
    let Ok(proof) = consistency_proof_in(old as u64, leaves.len() as u64, leaves);
    proof
}

/// The right edge of a growing tree: the roots of its perfect subtrees, largest first (one
/// per set bit of the size). It is all a writer needs to extend the tree and compute its root,
/// O(log n) hashes however large the tree grows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A frontier from its parts; `None` unless there is one hash per set bit of `size`.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Option<Self> {
        (hashes.len() == size.count_ones() as usize).then_some(Self { size, hashes })
    }

    /// Leaves so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The subtree roots, largest first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends a leaf hash. `completed` is told of every perfect subtree this completes, as
    /// (height, index among subtrees of that height, hash), smallest first.
    pub fn push_with(&mut self, leaf: Hash, mut completed: impl FnMut(u32, u64, &Hash)) {
        let mut hash = leaf;
        let mut height = 0u32;
        let mut bits = self.size;
        while bits & 1 == 1 {
            // The size has a perfect subtree of this height at its right edge: merge.
            let Some(left) = self.hashes.pop() else {
                break;
            };
            hash = node_hash(&left, &hash);
            height += 1;
            bits >>= 1;
            completed(height, (self.size + 1) / (1u64 << height) - 1, &hash);
        }
        self.hashes.push(hash);
        self.size += 1;
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        self.push_with(leaf, |_, _, _| {});
    }

    /// The root hash of the tree so far.
    pub fn root(&self) -> Hash {
        let mut iter = self.hashes.iter().rev();
        let Some(last) = iter.next() else {
            return empty_root();
        };
        iter.fold(*last, |acc, left| node_hash(left, &acc))
    }
}

/// Verifies that `leaf` is at `index` in a tree of `size` with `root_hash`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root_hash: &Hash,
) -> bool {
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && bool::from(r.ct_eq(root_hash))
}

/// Verifies that the tree (`old_size`, `old_root`) is a prefix of (`new_size`, `new_root`).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size == 0 || old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && bool::from(old_root.ct_eq(new_root));
    }
    let mut proof = proof.to_vec();
    if old_size.is_power_of_two() {
        proof.insert(0, *old_root);
    }
    let Some((first, rest)) = proof.split_first() else {
        return false;
    };
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && bool::from(fr.ct_eq(old_root)) && bool::from(sr.ct_eq(new_root))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("event {i}").as_bytes()))
            .collect()
    }

    // RFC 6962 test data as used by many CT implementations: the empty tree and a single
    // leaf of empty data, computed from the definitions.
    #[test]
    fn known_small_values() {
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex::encode(leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        let l = leaves(3);
        assert_eq!(root(&l), node_hash(&node_hash(&l[0], &l[1]), &l[2]));
    }

    #[test]
    fn the_frontier_agrees_with_the_tree_and_reports_completed_subtrees() {
        let l = leaves(700);
        let mut f = Frontier::new();
        assert_eq!(f.root(), empty_root());
        let mut level1 = Vec::new();
        for (i, h) in l.iter().enumerate() {
            f.push_with(*h, |height, index, hash| {
                if height == 8 {
                    level1.push((index, *hash));
                }
            });
            assert_eq!(f.size(), i as u64 + 1);
            assert_eq!(f.root(), root(&l[..=i]), "size {}", i + 1);
            assert_eq!(f.hashes().len(), (i + 1).count_ones() as usize);
        }
        // Two full 256-leaf tiles: their roots were reported, in order.
        assert_eq!(level1, vec![(0, root(&l[..256])), (1, root(&l[256..512]))]);
        let again = Frontier::from_parts(f.size(), f.hashes().to_vec()).unwrap();
        assert_eq!(again, f);
        assert!(Frontier::from_parts(701, f.hashes().to_vec()).is_none());
    }

    proptest! {
        #[test]
        fn inclusion_proofs_verify_and_fail_when_altered(n in 1usize..70, i in 0usize..70, flip in 0usize..32) {
            let l = leaves(n);
            let i = i % n;
            let r = root(&l);
            let proof = inclusion_proof(i, &l).unwrap();
            prop_assert!(verify_inclusion(i as u64, n as u64, &l[i], &proof, &r));
            // Wrong leaf, wrong index, altered proof, wrong root all fail.
            let mut bad_leaf = l[i];
            bad_leaf[flip] ^= 1;
            prop_assert!(!verify_inclusion(i as u64, n as u64, &bad_leaf, &proof, &r));
            if n > 1 {
                prop_assert!(!verify_inclusion(((i + 1) % n) as u64, n as u64, &l[i], &proof, &r));
                let mut bad = proof.clone();
                bad[0][flip] ^= 1;
                prop_assert!(!verify_inclusion(i as u64, n as u64, &l[i], &bad, &r));
            }
        }

        #[test]
        fn consistency_proofs_verify_and_fail_when_altered(n in 1usize..70, m in 1usize..70, flip in 0usize..32) {
            let l = leaves(n);
            let m = 1 + (m - 1) % n;
            let old = root(&l[..m]);
            let new = root(&l);
            let proof = consistency_proof(m, &l).unwrap();
            prop_assert!(verify_consistency(m as u64, n as u64, &old, &new, &proof));
            let mut bad_old = old;
            bad_old[flip] ^= 1;
            prop_assert!(!verify_consistency(m as u64, n as u64, &bad_old, &new, &proof));
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let last = bad.len() - 1;
                bad[last][flip] ^= 1;
                prop_assert!(!verify_consistency(m as u64, n as u64, &old, &new, &bad));
            }
        }
    }
}
