//! Hot operations of ok2cry, with AWS-LC (aws-lc-rs, already in the tree through rustls) as
//! the reference line for the same primitives.
//!
//! Run: `cargo bench --bench crypto`. Figures go in docs/PERFORMANCE.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ok2cry::audit::MemoryRecorder as MemorySink;
use ok2cry::auth::principal::{AuthMethod, Principal, Role};
use ok2cry::clock::{ManualClock, Millis};
use ok2cry::custody::kek::KekRing;
use ok2cry::custody::{CreateRequest, Custody, CustodyConfig};
use ok2cry::metrics::Metrics;
use ok2cry_client::{Envelope, KeyId, KeyToken, KeyTokenClaims, PrivateKey, TokenSigner};
use std::hint::black_box;
use std::sync::Arc;

const NOW: Millis = 1_800_000_000_000;

/// The protocol operations, once per crypto provider (RustCrypto, the reference, and AWS-LC),
/// side by side: benchmark ids are `provider/<name>/<operation>`.
fn providers(c: &mut Criterion) {
    for p in ok2cry_client::provider::all() {
        let mut g = c.benchmark_group(format!("provider/{}", p.name()));
        g.bench_function("keygen", |b| {
            b.iter(|| black_box(p.generate_p256().unwrap()))
        });

        let signer = TokenSigner::generate_with(p).unwrap();
        let (key, public) = p.generate_p256().unwrap();
        let id = KeyId::new("n1_benchmarkkey").unwrap();
        let claims = KeyTokenClaims::new("ok2cry", id.clone(), &public, 1, 2, 1, None);
        g.bench_function("token_sign", |b| {
            b.iter(|| black_box(signer.sign(&claims).unwrap()))
        });
        // What a create costs in crypto: a fresh key pair and its signed token.
        g.bench_function("keygen_and_token_sign", |b| {
            b.iter(|| {
                let (_, public) = p.generate_p256().unwrap();
                let claims = KeyTokenClaims::new("ok2cry", id.clone(), &public, 1, 2, 1, None);
                black_box(signer.sign(&claims).unwrap())
            })
        });
        let token = signer.sign(&claims).unwrap();
        let jwks = ok2cry_client::Jwks {
            keys: vec![signer.public_jwk()],
        };
        g.bench_function("token_verify", |b| {
            b.iter(|| {
                black_box(
                    KeyToken::parse(&token)
                        .unwrap()
                        .verify_with(p, &jwks, 1)
                        .unwrap(),
                )
            })
        });
        g.bench_function("seal_16B", |b| {
            b.iter(|| {
                black_box(Envelope::seal_to_with(p, &public, &id, "", b"4111111111111111").unwrap())
            })
        });
        let env = Envelope::seal_to_with(p, &public, &id, "", b"4111111111111111").unwrap();
        g.bench_function("open_16B", |b| {
            b.iter(|| black_box(key.open_with(p, &id, "", &env).unwrap()))
        });
        g.finish();
    }
}

fn kek(c: &mut Criterion) {
    let mut g = c.benchmark_group("ok2cry");
    let (ring, _) = KekRing::new(NOW, 600_000, 3_600_000).unwrap();
    let scalar = PrivateKey::generate().to_secret_bytes();
    g.bench_function("kek_wrap", |b| {
        b.iter(|| black_box(ring.wrap(NOW, "n1_k", NOW + 1, &scalar).unwrap()))
    });
    let wrapped = ring.wrap(NOW, "n1_k", NOW + 1, &scalar).unwrap();
    g.bench_function("kek_unwrap", |b| {
        b.iter(|| black_box(ring.unwrap_key("n1_k", NOW + 1, &wrapped).unwrap()))
    });
    g.finish();
}

fn service_path(c: &mut Criterion) {
    for p in ok2cry_client::provider::all() {
        service_path_with(c, p);
    }
}

fn service_path_with(c: &mut Criterion, provider: &'static dyn ok2cry_client::CryptoProvider) {
    let mut g = c.benchmark_group(format!("service/{}", provider.name()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let clock = ManualClock::new(NOW);
    let config = CustodyConfig {
        max_live_keys: 10_000_000,
        provider,
        ..Default::default()
    };
    let custody = Arc::new(
        Custody::new(
            config,
            Arc::new(clock),
            Arc::new(MemorySink::default()),
            Arc::new(Metrics::new()),
        )
        .unwrap(),
    );
    let me = Principal {
        id: "bench".into(),
        roles: [Role::Issuer, Role::Opener].into_iter().collect(),
        method: AuthMethod::Mtls,
    };
    // keygen + wrap + sign + (in-memory) audit event: what POST /v1/keys does besides HTTP.
    g.bench_function("create_key", |b| {
        b.iter(|| {
            black_box(
                rt.block_on(custody.create(&me, CreateRequest::default()))
                    .unwrap(),
            )
        })
    });
    let jwks = custody.signing().jwks();
    // unwrap + HPKE open + destroy: what POST /v1/keys/{id}/open does besides HTTP.
    g.bench_function("open_key", |b| {
        b.iter_batched(
            || {
                let view = rt
                    .block_on(custody.create(&me, CreateRequest::default()))
                    .unwrap();
                let key = KeyToken::parse(&view.token)
                    .unwrap()
                    .verify(&jwks, NOW / 1000)
                    .unwrap();
                (view.key_id, Envelope::seal(&key, b"1234").unwrap())
            },
            |(id, env)| black_box(rt.block_on(custody.open(&me, &id, &env)).unwrap()),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn aws_lc(c: &mut Criterion) {
    use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    use aws_lc_rs::agreement::{ECDH_P256, PrivateKey as AgreementKey, UnparsedPublicKey, agree};
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    let mut g = c.benchmark_group("aws-lc reference");
    g.bench_function("keygen", |b| {
        b.iter(|| black_box(AgreementKey::generate(&ECDH_P256).unwrap()))
    });
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let msg = [7u8; 300];
    g.bench_function("ecdsa_sign", |b| {
        b.iter(|| black_box(pair.sign(&rng, &msg).unwrap()))
    });
    let _ = pair.public_key();
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[9u8; 32]).unwrap());
    g.bench_function("aes256gcm_seal_32B", |b| {
        b.iter(|| {
            let mut data = [1u8; 32];
            black_box(
                key.seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key([0u8; 12]),
                    Aad::from(b"n1_k"),
                    &mut data,
                )
                .unwrap(),
            )
        })
    });
    let peer = AgreementKey::generate(&ECDH_P256).unwrap();
    let peer_public = peer.compute_public_key().unwrap();
    g.bench_function("ecdh", |b| {
        b.iter_batched(
            || AgreementKey::generate(&ECDH_P256).unwrap(),
            |mine| {
                agree(
                    &mine,
                    UnparsedPublicKey::new(&ECDH_P256, peer_public.as_ref()),
                    (),
                    |s| Ok(black_box(s.len())),
                )
                .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn audit_append(c: &mut Criterion) {
    use ok2cry::audit::{AuditLog, AuditOptions, EventBody};
    let mut g = c.benchmark_group("audit");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = AuditOptions::new(
        dir.path().join("log"),
        "bench",
        dir.path().join("audit-key.pem"),
    );
    opts.segment_max_bytes = 1 << 30;
    let (log, _) = AuditLog::open(opts, Arc::new(ok2cry::clock::SystemClock)).unwrap();
    // 1000 concurrent durable appends per iteration: each is fsync-durable before it returns;
    // group commit shares one fdatasync per batch. Throughput = 1000 / iteration time.
    g.throughput(criterion::Throughput::Elements(1000));
    g.sample_size(20);
    g.bench_function("durable_created_events_x1000", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut tasks = Vec::with_capacity(1000);
                for i in 0..1000u64 {
                    let log = log.clone();
                    tasks.push(tokio::spawn(async move {
                        log.append_durable(vec![EventBody::KeyCreated {
                            key_id: format!("bench_{i}"),
                            jwk_thumbprint: "tp".into(),
                            owner: "bench".into(),
                            opener: "bench".into(),
                            expires_at: ok2cry::audit::Timestamp(1_893_456_000_000),
                            kek_id: 1,
                            label: None,
                            max_opens: 1,
                        }])
                        .await
                        .unwrap()
                    }));
                }
                for t in tasks {
                    t.await.unwrap();
                }
            })
        })
    });
    g.finish();
}

criterion_group!(benches, providers, kek, service_path, aws_lc, audit_append);
criterion_main!(benches);
