//! Writes the seed corpus of every fuzz target into `fuzz/corpus/<target>/seed-*` from the
//! project's vectors (`tests/vectors/protocol-v1.json`, `../shared/vectors/nitro/`), the
//! fuzz fixtures (`fuzz/fixtures/`) and a real audit log made here:
//!
//! ```sh
//! cargo run -p ok2cry-fuzz --example seeds
//! ```
//!
//! The seeds are committed; run this again only when a format changes. Other corpus files
//! (what a campaign found, minimized) are left alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64ct::{Base64UrlUnpadded, Encoding};
use ok2cry::audit::AuditLog;
use ok2cry::auth::principal::{AuthMethod, Principal, Role};
use ok2cry::clock::{Clock, SystemClock};
use ok2cry::custody::{CreateRequest, Custody, CustodyConfig};
use ok2cry::metrics::Metrics;
use ok2cry::node::config::Config;
use ok2cry_client::{Envelope, KeyToken, PublicKey};
use ok2cry_fuzz::fixtures::{VECTORS, text, unhex};
use ok2cry_fuzz::{audit_note, bearer, pki, wrap};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct Seeds {
    root: PathBuf,
    count: usize,
}

impl Seeds {
    fn put(&mut self, target: &str, name: &str, mode: Option<u8>, bytes: &[u8]) {
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        let mut data = mode.map(|m| vec![m]).unwrap_or_default();
        data.extend_from_slice(bytes);
        std::fs::write(dir.join(format!("seed-{name}")), data).unwrap();
        self.count += 1;
    }
}

fn main() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seeds = Seeds {
        root: manifest.join("corpus"),
        count: 0,
    };
    protocol(&mut seeds);
    pki_seeds(&mut seeds);
    attestation(&mut seeds, &manifest.join("../../shared/vectors/nitro"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(audit(&mut seeds));
    http(&mut seeds);
    println!(
        "{} seeds written under {}",
        seeds.count,
        seeds.root.display()
    );
}

/// Envelopes, tokens, JWKs and keys from the protocol vectors; bearer tokens.
fn protocol(seeds: &mut Seeds) {
    for (i, v) in VECTORS["seal"].as_array().unwrap().iter().enumerate() {
        seeds.put(
            "envelope",
            &format!("seal{i}-compact"),
            None,
            text(v, "envelope_compact").as_bytes(),
        );
        seeds.put(
            "envelope",
            &format!("seal{i}-json"),
            None,
            text(v, "envelope_json").as_bytes(),
        );
        seeds.put(
            "jwk",
            &format!("seal{i}-jwk"),
            Some(0),
            v["recipient_jwk"].to_string().as_bytes(),
        );
        let pk = unhex(text(v, "pkRm"));
        let public = PublicKey::from_sec1_uncompressed(&pk).unwrap();
        seeds.put(
            "jwk",
            &format!("seal{i}-spki-pem"),
            Some(1),
            public.to_spki_pem().unwrap().as_bytes(),
        );
        seeds.put("jwk", &format!("seal{i}-sec1"), Some(2), &pk);
        seeds.put(
            "jwk",
            &format!("seal{i}-sk"),
            Some(3),
            &unhex(text(v, "skRm")),
        );
    }
    let token = &VECTORS["key_token"];
    seeds.put("jwk", "jwks", Some(0), token["jwks"].to_string().as_bytes());
    seeds.put(
        "key_token",
        "vector",
        Some(0),
        text(token, "token").as_bytes(),
    );
    let mut parts_of_token = text(token, "token").split('.');
    let mut parts = Vec::new();
    for (i, part) in parts_of_token.by_ref().take(2).enumerate() {
        if i == 1 {
            parts.push(0);
        }
        parts.extend(Base64UrlUnpadded::decode_vec(part).unwrap());
    }
    seeds.put("key_token", "vector-parts", Some(1), &parts);
    for (i, m) in VECTORS["must_fail"].as_array().unwrap().iter().enumerate() {
        let input = m["input"].as_str().unwrap_or_default();
        match m["kind"].as_str() {
            Some("token") => seeds.put(
                "key_token",
                &format!("must-fail{i}"),
                Some(0),
                input.as_bytes(),
            ),
            Some("open") if m["form"] != "sealed_hex" => {
                seeds.put("envelope", &format!("must-fail{i}"), None, input.as_bytes())
            }
            _ => {}
        }
    }
    let header = br#"{"alg":"ES256","typ":"JWT","kid":"k1"}"#;
    let claims = json!({
        "sub": "partner", "aud": bearer::AUDIENCE, "iat": bearer::NOW - 1,
        "exp": bearer::NOW + 30, "nbf": bearer::NOW - 1, "jti": "seed-1",
    })
    .to_string();
    seeds.put(
        "bearer",
        "valid",
        Some(0),
        bearer::sign(header, claims.as_bytes()).as_bytes(),
    );
    let mut parts = header.to_vec();
    parts.push(0);
    parts.extend_from_slice(claims.as_bytes());
    seeds.put("bearer", "valid-parts", Some(1), &parts);
    let many = json!({
        "sub": "partner", "aud": ["other", bearer::AUDIENCE], "iat": bearer::NOW,
        "exp": bearer::NOW + 60, "jti": "seed-2",
    })
    .to_string();
    let mut parts = header.to_vec();
    parts.push(0);
    parts.extend_from_slice(many.as_bytes());
    seeds.put("bearer", "audience-array-parts", Some(1), &parts);
}

/// CSRs, certificates and CRLs of the fixture CA.
fn pki_seeds(seeds: &mut Seeds) {
    // A CSR from a random key (mode 0), and one from the fixture partner key (mode 1: only
    // its CertificationRequestInfo, which the harness signs).
    let random = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["partner.example".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "partner");
    let csr = params.serialize_request(&random).unwrap();
    seeds.put("pki", "csr-pem", Some(0), csr.pem().unwrap().as_bytes());
    use p256::pkcs8::EncodePrivateKey;
    let partner_der = pki::partner_key().to_pkcs8_der().unwrap();
    let partner = rcgen::KeyPair::try_from(partner_der.as_bytes()).unwrap();
    let csr = params.serialize_request(&partner).unwrap();
    let info = wrap::first_element(csr.der()).unwrap();
    seeds.put("pki", "csr-info", Some(1), info);
    seeds.put("pki", "cert-pem", Some(2), pki::CLIENT_PEM.as_bytes());
    let crl_der = wrap::unpem(pki::CRL_PEM).unwrap();
    seeds.put(
        "pki",
        "crl-tbs-empty",
        Some(3),
        wrap::first_element(&crl_der).unwrap(),
    );
    let revoked = ok2cry::auth::pki::revoke(
        pki::CA_PEM,
        pki::CA_KEY,
        Some(pki::CRL_PEM),
        pki::CLIENT_PEM,
    )
    .unwrap();
    let revoked_der = wrap::unpem(&revoked).unwrap();
    seeds.put(
        "pki",
        "crl-tbs-one-entry",
        Some(3),
        wrap::first_element(&revoked_der).unwrap(),
    );
    seeds.put("pki", "crl-der", Some(4), &revoked_der);
    seeds.put(
        "pki",
        "cert-der",
        Some(5),
        &wrap::unpem(pki::CLIENT_PEM).unwrap(),
    );
}

/// Real Nitro documents (mode 0) and their payloads (mode 1).
fn attestation(seeds: &mut Seeds, dir: &Path) {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (../shared/vectors beside the repository)",
                dir.display()
            )
        })
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "cbor" || x == "cose"))
        .collect();
    names.sort();
    for path in names {
        let bytes = std::fs::read(&path).unwrap();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        seeds.put("attestation", &stem, Some(0), &bytes);
        let cose = ok2cry_attestation::cose::CoseSign1::parse(&bytes).unwrap();
        let payload = format!("{stem}-payload");
        seeds.put("attestation", &payload, Some(1), &cose.payload);
        seeds.put(
            "attestation",
            &format!("{payload}-nonce"),
            Some(3),
            &cose.payload,
        );
    }
}

/// Lines, notes and receipts of a real audit log.
async fn audit(seeds: &mut Seeds) {
    let dir = tempfile::tempdir().unwrap();
    let config_path = ok2cry::node::dev::prepare(&dir.path().join("pki"), None).unwrap();
    let config = Config::from_file(&config_path).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let opts = config.audit_options();
    let log_clock = clock.clone();
    let (log, _) = tokio::task::spawn_blocking(move || AuditLog::open(opts, log_clock))
        .await
        .unwrap()
        .unwrap();
    let custody = Arc::new(
        Custody::new(
            CustodyConfig::default(),
            clock.clone(),
            Arc::new(log.clone()),
            Arc::new(Metrics::new()),
        )
        .unwrap(),
    );
    let me = Principal {
        id: "ok2cry://principal/card-api".into(),
        roles: [Role::Issuer, Role::Opener].into_iter().collect(),
        method: AuthMethod::Mtls,
    };
    let opened = custody
        .create(
            &me,
            CreateRequest {
                context: Some("card:1/pin".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let key = KeyToken::parse(&opened.token)
        .unwrap()
        .verify(&custody.signing().jwks(), clock.now_ms() / 1000)
        .unwrap();
    let envelope = Envelope::seal(&key, b"1234").unwrap();
    let wrong = Envelope::seal_to(key.public_key(), key.key_id(), "other", b"x").unwrap();
    assert!(custody.open(&me, &opened.key_id, &wrong).await.is_err());
    custody.open(&me, &opened.key_id, &envelope).await.unwrap();
    let deleted = custody
        .create(
            &me,
            CreateRequest {
                label: Some("seed".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    custody.delete(&me, &deleted.key_id).await.unwrap();
    log.flush().await;
    log.checkpoint_now().await.unwrap();
    for (n, id) in [(0, &opened.key_id), (1, &deleted.key_id)] {
        let receipt = log.receipt(id.as_str()).await.unwrap().unwrap();
        let json = serde_json::to_vec(&receipt).unwrap();
        seeds.put("audit_receipt", &format!("receipt{n}"), Some(0), &json);
        seeds.put(
            "audit_receipt",
            &format!("receipt{n}-resigned"),
            Some(1),
            &json,
        );
        for (i, note) in [&receipt.checkpoint].into_iter().enumerate() {
            seeds.put(
                "audit_note",
                &format!("note{n}-{i}"),
                Some(0),
                note.as_bytes(),
            );
            let body = note.split_once("\n\n").unwrap().0;
            seeds.put(
                "audit_note",
                &format!("body{n}-{i}"),
                Some(1),
                body.as_bytes(),
            );
            seeds.put(
                "audit_note",
                &format!("note{n}-{i}-fixture-key"),
                Some(0),
                audit_note::sign_body(body).as_bytes(),
            );
        }
    }
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(log.dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("segment-") && name.ends_with(".jsonl") && !name.contains("checkpoints")
        {
            lines.extend(
                std::fs::read_to_string(&path)
                    .unwrap()
                    .lines()
                    .map(str::to_owned),
            );
        }
    }
    for line in lines {
        let kind = serde_json::from_str::<Value>(&line).unwrap()["type"]
            .as_str()
            .unwrap()
            .to_owned();
        if !std::fs::exists(seeds.root.join("audit_event").join(format!("seed-{kind}"))).unwrap() {
            seeds.put("audit_event", &kind, None, line.as_bytes());
        }
    }
    log.close().await.unwrap();
}

/// One request per route.
fn http(seeds: &mut Seeds) {
    let envelope = text(&VECTORS["seal"][0], "envelope_json");
    let compact = text(&VECTORS["seal"][0], "envelope_compact");
    let requests: Vec<(&str, u8, u8, String)> = vec![
        (
            "create",
            0x10,
            0,
            "\n{\"ttl_seconds\":60,\"max_opens\":2,\"context\":\"card:1/pin\",\"label\":\"l\"}"
                .into(),
        ),
        ("create-empty", 0x00, 0, "\n".into()),
        (
            "create-opener",
            0x10,
            1,
            "\n{\"opener\":\"ok2cry://principal/card-api\"}".into(),
        ),
        ("create-bearer", 0x10, 5, "\n{\"ttl_seconds\":30}".into()),
        ("get-live", 1, 0, "@".into()),
        ("get-unknown", 1, 1, "n1_AAAAAAAAAAAAAAAAAAAAAA".into()),
        ("delete-live", 2, 0, "@".into()),
        (
            "open-json",
            0x13,
            0,
            format!("@\n{{\"envelope\":{envelope}}}"),
        ),
        (
            "open-compact",
            0x13,
            0,
            format!("@\n{{\"envelope\":\"{compact}\"}}"),
        ),
        ("open-header", 4, 0, format!("@\n{compact}")),
        ("events", 5, 2, "after=0&limit=10".into()),
        ("consistency", 6, 2, "old=1&new=1".into()),
        ("receipt", 7, 2, "@".into()),
        ("attestation", 8, 0, "nonce=00112233445566778899".into()),
        ("paths", 9, 2, "123".into()),
        ("free", 10, 0, "GET\n/v1/keys".into()),
        ("sealed-json", 11, 0, "x\n1234".into()),
        ("sealed-compact", 0x8b, 0, "x\n1234".into()),
        (
            "open-live-body",
            12,
            0,
            format!("x\n{{\"envelope\":{envelope}}}"),
        ),
        (
            "bearer-raw",
            0x10,
            4,
            "eyJhbGciOiJFUzI1NiJ9.e30.AA\n{}".into(),
        ),
    ];
    for (name, route, caller, rest) in requests {
        let mut data = vec![route, caller];
        data.extend_from_slice(rest.as_bytes());
        seeds.put("http_api", name, None, &data);
    }
}
