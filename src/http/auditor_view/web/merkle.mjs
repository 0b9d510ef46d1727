// RFC 9162 Merkle tree hashing with WebCrypto's SHA-256 (src/audit/merkle.rs):
// leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right). The frontier (the roots
// of the perfect subtrees at the tree's right edge) grows one leaf at a time; every perfect
// subtree it completes is kept, so that inclusion proofs can be made without hashing again.

import { bytesEqual } from "./json.mjs";

const subtle = globalThis.crypto.subtle;

/** SHA-256 of the concatenation of `parts` (Uint8Arrays). */
export async function sha256(...parts) {
  let len = 0;
  for (const p of parts) len += p.length;
  const buf = new Uint8Array(len);
  let at = 0;
  for (const p of parts) {
    buf.set(p, at);
    at += p.length;
  }
  return new Uint8Array(await subtle.digest("SHA-256", buf));
}

const LEAF = Uint8Array.of(0);
const NODE = Uint8Array.of(1);

export function leafHash(data) {
  return sha256(LEAF, data);
}

export function nodeHash(left, right) {
  return sha256(NODE, left, right);
}

export function emptyRoot() {
  return sha256();
}

/**
 * Leaf hashes of many lines at once: WebCrypto runs the digests concurrently, which is where a
 * browser spends most of a verification.
 */
export async function leafHashes(lines) {
  const out = new Array(lines.length);
  const BATCH = 2048;
  for (let k = 0; k < lines.length; k += BATCH) {
    const part = await Promise.all(lines.slice(k, k + BATCH).map((l) => leafHash(l)));
    for (let j = 0; j < part.length; j += 1) out[k + j] = part[j];
  }
  return out;
}

/** The right edge of a growing tree: one subtree root per set bit of the size, largest first. */
export class Frontier {
  constructor(size = 0, hashes = []) {
    this.size = size;
    this.hashes = hashes;
  }

  /** A frontier from its parts; null unless there is one hash per set bit of `size`. */
  static fromParts(size, hashes) {
    return popcount(size) === hashes.length ? new Frontier(size, hashes.slice()) : null;
  }

  /** Appends a leaf hash; `completed(height, index, hash)` hears of every perfect subtree made. */
  async push(leaf, completed) {
    let hash = leaf;
    let height = 0;
    let bits = this.size;
    while (bits % 2 === 1) {
      const left = this.hashes.pop();
      if (left === undefined) break;
      hash = await nodeHash(left, hash);
      height += 1;
      bits = Math.floor(bits / 2);
      if (completed) completed(height, Math.floor((this.size + 1) / 2 ** height) - 1, hash);
    }
    this.hashes.push(hash);
    this.size += 1;
  }

  async root() {
    if (this.hashes.length === 0) return emptyRoot();
    let acc = this.hashes[this.hashes.length - 1];
    for (let k = this.hashes.length - 2; k >= 0; k -= 1) acc = await nodeHash(this.hashes[k], acc);
    return acc;
  }

  equals(other) {
    return (
      other !== null &&
      this.size === other.size &&
      this.hashes.length === other.hashes.length &&
      this.hashes.every((h, k) => bytesEqual(h, other.hashes[k]))
    );
  }

  clone() {
    return new Frontier(this.size, this.hashes.slice());
  }
}

function popcount(n) {
  let c = 0;
  let v = n;
  while (v > 0) {
    c += v % 2;
    v = Math.floor(v / 2);
  }
  return c;
}

/** Largest power of two strictly smaller than n (n >= 2). */
function split(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The hashes of every perfect subtree seen (leaves included), to answer MTH(D[start..end)) for
 * the ranges inclusion proofs ask for. Subtrees wholly before the first leaf read are known only
 * as the pieces of the frontier the reading started from.
 */
export class TreeCache {
  constructor() {
    this.levels = []; // levels[h].get(index) = hash of leaves [index·2^h, (index+1)·2^h)
  }

  put(height, index, hash) {
    if (!this.levels[height]) this.levels[height] = new Map();
    this.levels[height].set(index, hash);
  }

  /** Records the pieces of a frontier (where a partial log starts). */
  putFrontier(frontier) {
    // The pieces are the set bits of the size, largest first.
    let start = 0;
    let remaining = frontier.size;
    for (const h of frontier.hashes) {
      let height = 0;
      while (2 ** (height + 1) <= remaining) height += 1;
      this.put(height, start / 2 ** height, h);
      start += 2 ** height;
      remaining -= 2 ** height;
    }
  }

  async rangeHash(start, end) {
    const n = end - start;
    if (n === 0) return emptyRoot();
    if ((n & (n - 1)) === 0 && start % n === 0) {
      const height = Math.log2(n);
      const known = this.levels[height]?.get(start / n);
      if (known) return known;
      if (n === 1) throw new Error(`leaf ${start} is not in the loaded log`);
      const half = n / 2;
      return nodeHash(await this.rangeHash(start, start + half), await this.rangeHash(start + half, end));
    }
    const k = split(n);
    return nodeHash(await this.rangeHash(start, start + k), await this.rangeHash(start + k, end));
  }

  /** The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 9162 §2.1.3.1). */
  async inclusionProof(index, size) {
    if (index >= size) return null;
    const out = [];
    const path = async (m, start, end) => {
      const n = end - start;
      if (n <= 1) return;
      const k = split(n);
      if (m < k) {
        await path(m, start, start + k);
        out.push(await this.rangeHash(start + k, end));
      } else {
        await path(m - k, start + k, end);
        out.push(await this.rangeHash(start, start + k));
      }
    };
    await path(index, 0, size);
    return out;
  }
}

/** Verifies that `leaf` is at `index` in a tree of `size` with root `root` (RFC 9162 §2.1.3.2). */
export async function verifyInclusion(index, size, leaf, proof, root) {
  if (index >= size) return false;
  let fn = BigInt(index);
  let sn = BigInt(size - 1);
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && bytesEqual(r, root);
}
