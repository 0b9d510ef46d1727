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

/// The inclusion proof of leaf `index` in the tree of `leaves`.
pub fn inclusion_proof(index: usize, leaves: &[Hash]) -> Option<Vec<Hash>> {
    if index >= leaves.len() {
        return None;
    }
    let mut proof = Vec::new();
    path(index, leaves, &mut proof);
    Some(proof)
}

fn path(m: usize, d: &[Hash], out: &mut Vec<Hash>) {
    let n = d.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(m, &d[..k], out);
        out.push(root(&d[k..]));
    } else {
        path(m - k, &d[k..], out);
        out.push(root(&d[..k]));
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

/// The consistency proof between the tree of the first `old` leaves and the tree of `leaves`.
pub fn consistency_proof(old: usize, leaves: &[Hash]) -> Option<Vec<Hash>> {
    if old == 0 || old > leaves.len() {
        return None;
    }
    let mut proof = Vec::new();
    if old < leaves.len() {
        subproof(old, leaves, true, &mut proof);
    }
    Some(proof)
}

fn subproof(m: usize, d: &[Hash], complete: bool, out: &mut Vec<Hash>) {
    let n = d.len();
    if m == n {
        if !complete {
            out.push(root(d));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &d[..k], complete, out);
        out.push(root(&d[k..]));
    } else {
        subproof(m - k, &d[k..], false, out);
        out.push(root(&d[..k]));
    }
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
