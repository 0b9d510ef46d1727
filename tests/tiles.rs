//! An independent C2SP tlog-tiles reader, written from the specs and sharing no code with the
//! service (its own RFC 6962 hashing and proofs, its own signed-note parsing, the p256 crate
//! for the signature), reads a running node's tree over mTLS as any tiles client would: the
//! checkpoint, hash tiles at two levels, entry bundles; it recomputes the signed root, checks
//! that the entries hash to the tiles, builds and verifies an inclusion proof from the tiles,
//! and verifies the node's consistency proof between two checkpoints.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64ct::{Base64, Encoding};
use common::{TestServer, create, get};
use p256::ecdsa::signature::Verifier;
use p256::pkcs8::DecodePublicKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

type H = [u8; 32];

fn leaf(data: &[u8]) -> H {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

fn node(l: &H, r: &H) -> H {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

/// MTH(D[n]) of RFC 6962 §2.1, straight from the definition.
fn mth(d: &[H]) -> H {
    match d.len() {
        0 => Sha256::digest([]).into(),
        1 => d[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            node(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

/// PATH(m, D[n]) of RFC 6962 §2.1.1.
fn path(m: usize, d: &[H]) -> Vec<H> {
    let n = d.len();
    if n <= 1 {
        return vec![];
    }
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

/// Recomputes the root from a leaf and its audit path (RFC 9162 §2.1.3.2).
fn root_from_path(index: usize, size: usize, leaf: H, proof: &[H]) -> Option<H> {
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = leaf;
    for p in proof {
        if sn == 0 {
            return None;
        }
        if fn_ % 2 == 1 || fn_ == sn {
            r = node(p, &r);
            while fn_ % 2 == 0 && fn_ != 0 {
                fn_ /= 2;
                sn /= 2;
            }
        } else {
            r = node(&r, p);
        }
        fn_ /= 2;
        sn /= 2;
    }
    (sn == 0).then_some(r)
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2).
fn consistent(m: usize, n: usize, old: &H, new: &H, proof: &[H]) -> bool {
    if m == n {
        return proof.is_empty() && old == new;
    }
    let mut proof = proof.to_vec();
    if m.is_power_of_two() {
        proof.insert(0, *old);
    }
    let (mut fn_, mut sn) = (m - 1, n - 1);
    while fn_ % 2 == 1 {
        fn_ /= 2;
        sn /= 2;
    }
    let Some(first) = proof.first() else {
        return false;
    };
    let (mut fr, mut sr) = (*first, *first);
    for c in &proof[1..] {
        if sn == 0 {
            return false;
        }
        if fn_ % 2 == 1 || fn_ == sn {
            fr = node(c, &fr);
            sr = node(c, &sr);
            while fn_ % 2 == 0 && fn_ != 0 {
                fn_ /= 2;
                sn /= 2;
            }
        } else {
            sr = node(&sr, c);
        }
        fn_ /= 2;
        sn /= 2;
    }
    sn == 0 && &fr == old && &sr == new
}

/// A tile path of tlog-tiles: `<N>` as x001/x234/067, `.p/<W>` for partial tiles.
fn tile_index(n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.insert(0, format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.join("/")
}

struct Checkpoint {
    origin: String,
    size: usize,
    root: H,
}

/// Parses a signed note and verifies the log's ECDSA (type 0x02) signature with `pem`.
fn checkpoint(note: &str, pem: &str) -> Checkpoint {
    let (text, sigs) = note.split_once("\n\n").unwrap();
    let text = format!("{text}\n");
    let mut lines = text.lines();
    let origin = lines.next().unwrap().to_owned();
    let size = lines.next().unwrap().parse().unwrap();
    let root: H = Base64::decode_vec(lines.next().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let key = p256::ecdsa::VerifyingKey::from_public_key_pem(pem.trim()).unwrap();
    let spki = p256::pkcs8::EncodePublicKey::to_public_key_der(&key).unwrap();
    let key_id = &Sha256::digest(spki.as_bytes())[..4];
    let mut verified = false;
    for line in sigs.lines() {
        let rest = line.strip_prefix("\u{2014} ").unwrap();
        let (name, b64) = rest.rsplit_once(' ').unwrap();
        let blob = Base64::decode_vec(b64).unwrap();
        if name != origin || &blob[..4] != key_id {
            continue; // a witness's cosignature: not this key
        }
        let sig = p256::ecdsa::DerSignature::try_from(&blob[4..]).unwrap();
        key.verify(text.as_bytes(), &sig).unwrap();
        verified = true;
    }
    assert!(verified, "no signature by the log's key");
    Checkpoint { origin, size, root }
}

#[tokio::test]
async fn an_independent_tiles_client_reads_and_verifies_the_tree() {
    let server = TestServer::start().await;
    let auditor = server.client("auditor");
    let key: Value = get(&auditor, server.url("/v1/audit/key"))
        .await
        .json()
        .await
        .unwrap();
    let pem = key["public_key_pem"].as_str().unwrap().to_owned();
    let fetch = |path: String| {
        let auditor = auditor.clone();
        let url = server.url(&format!("/v1/audit/tlog/{path}"));
        async move {
            let r = get(&auditor, url).await;
            assert_eq!(r.status(), 200, "{path}");
            r.bytes().await.unwrap().to_vec()
        }
    };
    // A first checkpoint, then enough events for full tiles at level 0 and a level-1 hash.
    create(&server, "card-api", json!({})).await;
    server.audit.checkpoint_now().await.unwrap();
    let first = checkpoint(
        std::str::from_utf8(&fetch("checkpoint".into()).await).unwrap(),
        &pem,
    );
    for _ in 0..600 {
        create(&server, "card-api", json!({})).await;
    }
    server.audit.checkpoint_now().await.unwrap();
    let cp = checkpoint(
        std::str::from_utf8(&fetch("checkpoint".into()).await).unwrap(),
        &pem,
    );
    assert_eq!(cp.origin, first.origin);
    assert!(cp.size > 512, "{}", cp.size);

    // Level 0: every leaf hash, from full tiles and the partial one the size requires.
    let mut leaves = Vec::new();
    let full = cp.size / 256;
    for n in 0..full as u64 {
        let tile = fetch(format!("tile/0/{}", tile_index(n))).await;
        assert_eq!(tile.len(), 256 * 32);
        leaves.extend(tile.chunks(32).map(|c| <H>::try_from(c).unwrap()));
    }
    let width = cp.size % 256;
    if width > 0 {
        let tile = fetch(format!("tile/0/{}.p/{width}", tile_index(full as u64))).await;
        assert_eq!(tile.len(), width * 32);
        leaves.extend(tile.chunks(32).map(|c| <H>::try_from(c).unwrap()));
    }
    assert_eq!(leaves.len(), cp.size);
    assert_eq!(mth(&leaves), cp.root, "the tiles give the signed root");
    assert_eq!(mth(&leaves[..first.size]), first.root);

    // Level 1: each hash is the root of a full level-0 tile.
    let level1 = fetch(format!("tile/1/000.p/{full}")).await;
    for (n, h) in level1.chunks(32).enumerate() {
        assert_eq!(h, mth(&leaves[n * 256..(n + 1) * 256]));
    }

    // Entry bundles: each entry hashes to its level-0 leaf, and is an event line.
    let bundle = fetch("tile/entries/000".into()).await;
    let mut at = 0;
    let mut i = 0;
    while at < bundle.len() {
        let len = u16::from_be_bytes([bundle[at], bundle[at + 1]]) as usize;
        let entry = &bundle[at + 2..at + 2 + len];
        assert_eq!(leaf(entry), leaves[i]);
        let event: Value = serde_json::from_slice(entry).unwrap();
        assert_eq!(event["seq"], i);
        at += 2 + len;
        i += 1;
    }
    assert_eq!(i, 256);

    // An inclusion proof built from the tiles verifies against the signed root.
    for index in [0, 255, 256, cp.size - 1] {
        let proof = path(index, &leaves);
        assert_eq!(
            root_from_path(index, cp.size, leaves[index], &proof),
            Some(cp.root)
        );
    }
    // The node's consistency proof between the two checkpoints verifies.
    let proof: Value = get(
        &auditor,
        server.url(&format!(
            "/v1/audit/consistency?old={}&new={}",
            first.size, cp.size
        )),
    )
    .await
    .json()
    .await
    .unwrap();
    let proof: Vec<H> = proof["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            Base64::decode_vec(h.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        })
        .collect();
    assert!(consistent(
        first.size,
        cp.size,
        &first.root,
        &cp.root,
        &proof
    ));
    let mut bad = proof.clone();
    bad[0][0] ^= 1;
    assert!(!consistent(
        first.size,
        cp.size,
        &first.root,
        &cp.root,
        &bad
    ));

    // A tile the tree does not have yet, or a malformed path: 404.
    assert_eq!(
        get(
            &auditor,
            server.url(&format!(
                "/v1/audit/tlog/tile/0/{}",
                tile_index(full as u64 + 5)
            ))
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        get(&auditor, server.url("/v1/audit/tlog/tile/0/1"))
            .await
            .status(),
        404
    );
    // Auditors only.
    assert_eq!(
        get(
            &server.client("card-api"),
            server.url("/v1/audit/tlog/checkpoint")
        )
        .await
        .status(),
        403
    );
    server.stop().await;
}

/// `ok2cry audit verify --tiles`: the service's own verifier reads the same tiles over mTLS as
/// the auditor (checkpoint, hash tiles for the frontier, every entry bundle) and verifies the
/// whole log; a client that is not an auditor is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_reads_a_nodes_log_as_tiles() {
    let server = TestServer::start().await;
    for _ in 0..600 {
        create(&server, "card-api", json!({})).await;
    }
    server.audit.checkpoint_now().await.unwrap();
    let size = server.audit.size();
    assert!(size > 512, "{size}");
    let pki = server.pki();
    let vkey = server.audit.log_key().vkey();
    let base = server.url("");
    let run = |who: &str| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_ok2cry"))
            .args(["audit", "verify", "--tiles", base.trim_end_matches('/')])
            .arg("--ca")
            .arg(pki.join("ca.pem"))
            .arg("--cert")
            .arg(pki.join(format!("{who}.pem")))
            .arg("--client-key")
            .arg(pki.join(format!("{who}.key")))
            .args(["--key", &vkey, "--json"])
            .output()
    };
    let out = run("auditor").await.unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["first_leaf"], 0, "{report}");
    assert!(
        report["checkpoints_verified"].as_u64().unwrap() >= 1,
        "{report}"
    );
    // Every leaf of the served checkpoint's tree was read from the bundles and verified.
    assert!(report["size"].as_u64().unwrap() > 512, "{report}");
    assert_eq!(report["totals"]["events"], report["size"], "{report}");
    let refused = run("card-api").await.unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stdout).contains("403"));
}
