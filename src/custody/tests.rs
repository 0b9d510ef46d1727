use super::*;
use crate::audit::MemoryRecorder as MemorySink;
use crate::auth::principal::{AuthMethod, Role};
use crate::clock::ManualClock;

const T0: Millis = 1_800_000_000_000;

fn principal(id: &str) -> Principal {
    Principal {
        id: id.into(),
        roles: [Role::Issuer, Role::Opener].into_iter().collect(),
        method: AuthMethod::Mtls,
    }
}

fn custody(config: CustodyConfig) -> (Arc<Custody>, ManualClock, Arc<MemorySink>) {
    let clock = ManualClock::new(T0);
    let sink = Arc::new(MemorySink::default());
    let c = Custody::new(
        config,
        Arc::new(clock.clone()),
        sink.clone(),
        Arc::new(Metrics::new()),
    )
    .unwrap();
    (Arc::new(c), clock, sink)
}

fn verified(c: &Custody, view: &KeyView, now_ms: Millis) -> ok2cry_client::VerifiedKey {
    ok2cry_client::KeyToken::parse(&view.token)
        .unwrap()
        .verify(&c.signing().jwks(), now_ms / 1000)
        .unwrap()
}

fn destroyed_events(sink: &MemorySink) -> Vec<(String, DestroyReason)> {
    sink.events()
        .into_iter()
        .filter_map(|e| match e {
            EventBody::KeyDestroyed { key_id, reason, .. } => Some((key_id, reason)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn create_seal_open_once_then_gone() {
    let (c, _clock, sink) = custody(CustodyConfig::default());
    let alice = principal("alice");
    let view = c
        .create(
            &alice,
            CreateRequest {
                context: Some("card:1/set-pin".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(view.key_id.as_str().starts_with("n1_"));
    let key = verified(&c, &view, T0);
    assert_eq!(key.context(), "card:1/set-pin");
    let env = Envelope::seal(&key, b"1234").unwrap();
    let opened = c.open(&alice, &view.key_id, &env).await.unwrap();
    assert_eq!(opened.plaintext.expose_secret(), b"1234");
    assert_eq!(opened.opens_remaining, 0);
    let again = c.open(&alice, &view.key_id, &env).await.err();
    assert!(matches!(
        again,
        Some(CustodyError::Gone {
            reason: DestroyReason::Consumed,
            ..
        })
    ));
    assert!(matches!(
        c.get(&view.key_id),
        Err(CustodyError::Gone {
            reason: DestroyReason::Consumed,
            ..
        })
    ));
    assert_eq!(
        destroyed_events(&sink),
        vec![(view.key_id.to_string(), DestroyReason::Consumed)]
    );
    assert_eq!(c.live_keys(), 0);
}

#[tokio::test]
async fn strict_ttl_refuses_at_read_and_sweeper_destroys() {
    let (c, clock, sink) = custody(CustodyConfig::default());
    let alice = principal("alice");
    let a = c
        .create(
            &alice,
            CreateRequest {
                ttl_ms: Some(10_000),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let b = c
        .create(
            &alice,
            CreateRequest {
                ttl_ms: Some(20_000),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let env = Envelope::seal(&verified(&c, &a, T0), b"pin").unwrap();
    clock.advance_ms(9_999);
    assert_eq!(c.sweep(), 0);
    assert!(c.get(&a.key_id).is_ok());
    clock.advance_ms(1);
    // Exactly at expiry the key can no longer be opened, even before any sweep.
    let refused = c.open(&alice, &a.key_id, &env).await.err();
    assert!(matches!(
        refused,
        Some(CustodyError::Gone {
            reason: DestroyReason::Expired,
            ..
        })
    ));
    assert_eq!(
        destroyed_events(&sink),
        vec![(a.key_id.to_string(), DestroyReason::Expired)]
    );
    // The sweeper destroys b as soon as its expiry passes, without any read.
    clock.advance_ms(10_000);
    assert_eq!(c.sweep(), 1);
    assert_eq!(
        destroyed_events(&sink),
        vec![
            (a.key_id.to_string(), DestroyReason::Expired),
            (b.key_id.to_string(), DestroyReason::Expired)
        ]
    );
    assert_eq!(c.live_keys(), 0);
}

#[tokio::test]
async fn failed_opens_are_counted_and_too_many_destroy() {
    let config = CustodyConfig {
        max_failed_opens: 3,
        ..Default::default()
    };
    let (c, _clock, sink) = custody(config);
    let alice = principal("alice");
    let view = c
        .create(
            &alice,
            CreateRequest {
                context: Some("ctx".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let key = verified(&c, &view, T0);
    // Sealed under another context: decryption fails, the key stays usable.
    let wrong = Envelope::seal_to(key.public_key(), key.key_id(), "", b"1234").unwrap();
    assert_eq!(
        c.open(&alice, &view.key_id, &wrong).await.err(),
        Some(CustodyError::OpenFailed {
            key_destroyed: false
        })
    );
    assert!(c.get(&view.key_id).is_ok());
    let good = Envelope::seal(&key, b"1234").unwrap();
    let mut bytes = good.sealed().to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let tampered = Envelope::from_parts(view.key_id.clone(), bytes, Some("ctx".into())).unwrap();
    assert_eq!(
        c.open(&alice, &view.key_id, &tampered).await.err(),
        Some(CustodyError::OpenFailed {
            key_destroyed: false
        })
    );
    assert_eq!(
        c.open(&alice, &view.key_id, &tampered).await.err(),
        Some(CustodyError::OpenFailed {
            key_destroyed: true
        })
    );
    assert!(matches!(
        c.open(&alice, &view.key_id, &good).await,
        Err(CustodyError::Gone {
            reason: DestroyReason::FailedOpens,
            ..
        })
    ));
    let failures = sink
        .events()
        .iter()
        .filter(|e| matches!(e, EventBody::OpenFailed { .. }))
        .count();
    assert_eq!(failures, 3);
}

#[tokio::test]
async fn only_the_designated_opener_may_open() {
    let (c, _clock, _sink) = custody(CustodyConfig::default());
    let issuer = principal("card-api");
    let view = c
        .create(
            &issuer,
            CreateRequest {
                opener: Some("hsm-gateway".into()),
                max_opens: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let env = Envelope::seal(&verified(&c, &view, T0), b"4111111111111111").unwrap();
    assert!(matches!(
        c.open(&issuer, &view.key_id, &env).await,
        Err(CustodyError::Forbidden(_))
    ));
    let opened = c
        .open(&principal("hsm-gateway"), &view.key_id, &env)
        .await
        .unwrap();
    assert_eq!(opened.opens_remaining, 1);
    // A forbidden attempt does not consume or count against the key.
    assert_eq!(c.get(&view.key_id).unwrap().opens_remaining, 1);
}

#[tokio::test]
async fn envelope_for_another_key_is_refused_without_consuming() {
    let (c, _clock, _sink) = custody(CustodyConfig::default());
    let alice = principal("alice");
    let a = c.create(&alice, CreateRequest::default()).await.unwrap();
    let b = c.create(&alice, CreateRequest::default()).await.unwrap();
    let for_b = Envelope::seal(&verified(&c, &b, T0), b"x").unwrap();
    assert_eq!(
        c.open(&alice, &a.key_id, &for_b).await.err(),
        Some(CustodyError::WrongKey)
    );
    assert!(c.get(&a.key_id).is_ok());
}

#[tokio::test]
async fn full_store_refuses_and_never_evicts() {
    let config = CustodyConfig {
        max_live_keys: 2,
        ..Default::default()
    };
    let (c, _clock, _sink) = custody(config);
    let alice = principal("alice");
    let a = c.create(&alice, CreateRequest::default()).await.unwrap();
    let _b = c.create(&alice, CreateRequest::default()).await.unwrap();
    assert_eq!(
        c.create(&alice, CreateRequest::default()).await.err(),
        Some(CustodyError::StoreFull)
    );
    assert!(c.get(&a.key_id).is_ok());
    c.delete(&alice, &a.key_id).await.unwrap();
    assert!(c.create(&alice, CreateRequest::default()).await.is_ok());
}

#[tokio::test]
async fn creation_and_opens_fail_closed_when_audit_is_down() {
    let (c, _clock, sink) = custody(CustodyConfig::default());
    let alice = principal("alice");
    let alive = c.create(&alice, CreateRequest::default()).await.unwrap();
    let doomed = c.create(&alice, CreateRequest::default()).await.unwrap();
    sink.set_fail_durable(true);
    assert_eq!(
        c.create(&alice, CreateRequest::default()).await.err(),
        Some(CustodyError::AuditUnavailable)
    );
    assert_eq!(c.live_keys(), 2);
    // An open whose event cannot be made durable hands out nothing and leaves the key as it
    // was; a refused open (wrong envelope) is not counted either.
    let env = Envelope::seal(&verified(&c, &alive, T0), b"1").unwrap();
    assert_eq!(
        c.open(&alice, &alive.key_id, &env).await.err(),
        Some(CustodyError::AuditUnavailable)
    );
    let mut bytes = env.sealed().to_vec();
    bytes[70] ^= 1;
    let bad = Envelope::from_parts(alive.key_id.clone(), bytes, None).unwrap();
    assert_eq!(
        c.open(&alice, &alive.key_id, &bad).await.err(),
        Some(CustodyError::AuditUnavailable)
    );
    assert_eq!(c.get(&alive.key_id).unwrap().opens_remaining, 1);
    // Destruction goes on: the key is gone, its record queued.
    assert_eq!(
        c.delete(&alice, &doomed.key_id).await.err(),
        Some(CustodyError::DestroyedUnlogged)
    );
    assert!(c.get(&doomed.key_id).is_err());
    assert!(sink.events().iter().any(|e| matches!(
        e,
        EventBody::KeyDestroyed { key_id, .. } if key_id == doomed.key_id.as_str()
    )));
    // Once the log is back, the key opens.
    sink.set_fail_durable(false);
    let opened = c.open(&alice, &alive.key_id, &env).await.unwrap();
    assert_eq!(opened.plaintext.expose_secret(), b"1");
    assert_eq!(c.live_keys(), 0);
}

#[tokio::test]
async fn bad_input_is_refused_with_what_was_wrong() {
    let (c, _clock, _sink) = custody(CustodyConfig::default());
    let alice = principal("alice");
    let cases = [
        CreateRequest {
            ttl_ms: Some(999),
            ..Default::default()
        },
        CreateRequest {
            ttl_ms: Some(3_600_001),
            ..Default::default()
        },
        CreateRequest {
            max_opens: Some(0),
            ..Default::default()
        },
        CreateRequest {
            max_opens: Some(101),
            ..Default::default()
        },
        CreateRequest {
            context: Some("x".repeat(257)),
            ..Default::default()
        },
        CreateRequest {
            label: Some("a\nb".into()),
            ..Default::default()
        },
        CreateRequest {
            opener: Some(String::new()),
            ..Default::default()
        },
    ];
    for req in cases {
        match c.create(&alice, req.clone()).await {
            Err(CustodyError::Invalid(msg)) => assert!(!msg.is_empty()),
            other => panic!("{req:?} gave {:?}", other.map(|v| v.key_id)),
        }
    }
    assert_eq!(c.live_keys(), 0);
}

#[tokio::test]
async fn delete_rules_and_shutdown_destroys_everything() {
    let (c, _clock, sink) = custody(CustodyConfig::default());
    let alice = principal("alice");
    let a = c.create(&alice, CreateRequest::default()).await.unwrap();
    let _b = c.create(&alice, CreateRequest::default()).await.unwrap();
    assert!(matches!(
        c.delete(&principal("mallory"), &a.key_id).await,
        Err(CustodyError::Forbidden(_))
    ));
    c.delete(&alice, &a.key_id).await.unwrap();
    assert!(matches!(
        c.delete(&alice, &a.key_id).await,
        Err(CustodyError::Gone {
            reason: DestroyReason::Revoked,
            ..
        })
    ));
    assert_eq!(c.shutdown(std::time::Duration::from_secs(1)).await, 1);
    assert_eq!(c.live_keys(), 0);
    let reasons: Vec<_> = destroyed_events(&sink)
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    assert_eq!(
        reasons,
        vec![DestroyReason::Revoked, DestroyReason::Shutdown]
    );
    assert!(
        sink.events()
            .iter()
            .any(|e| matches!(e, EventBody::KekDestroyed { .. }))
    );
    assert!(c.signing().jwks().keys.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_opens_exactly_one_succeeds() {
    let (c, _clock, _sink) = custody(CustodyConfig::default());
    let alice = principal("alice");
    for _ in 0..20 {
        let view = c.create(&alice, CreateRequest::default()).await.unwrap();
        let env = Envelope::seal(&verified(&c, &view, T0), b"1234").unwrap();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (c, env, id, alice) =
                    (c.clone(), env.clone(), view.key_id.clone(), alice.clone());
                tokio::spawn(async move { c.open(&alice, &id, &env).await })
            })
            .collect();
        let mut successes = 0;
        for h in handles {
            match h.await.unwrap() {
                Ok(_) => successes += 1,
                // The others see the key busy (being opened) or gone (consumed).
                Err(CustodyError::Busy | CustodyError::Gone { .. } | CustodyError::NotFound) => {}
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!(successes, 1);
    }
}

#[tokio::test]
async fn kek_rotation_is_logged_and_old_keys_stay_openable() {
    let config = CustodyConfig {
        kek_rotation_ms: 60_000,
        max_ttl_ms: 120_000,
        ..Default::default()
    };
    let (c, clock, sink) = custody(config);
    let alice = principal("alice");
    let view = c
        .create(
            &alice,
            CreateRequest {
                ttl_ms: Some(100_000),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let env = Envelope::seal(&verified(&c, &view, T0), b"42").unwrap();
    clock.advance_ms(60_000);
    c.sweep();
    let keks_created = sink
        .events()
        .iter()
        .filter(|e| matches!(e, EventBody::KekCreated { .. }))
        .count();
    assert_eq!(keks_created, 2);
    assert!(c.open(&alice, &view.key_id, &env).await.is_ok());
    // After the first KEK's not_after it is destroyed and logged.
    clock.advance_ms(200_000);
    c.sweep();
    assert!(sink.events().iter().any(|e| matches!(
        e,
        EventBody::KekDestroyed {
            keys_wrapped: 1,
            reason: crate::audit::KekDestroyReason::Expired,
            ..
        }
    )));
}

#[test]
fn principal_ids_are_stored_once_and_pruned_when_unused() {
    let names = Names::new();
    let a = names.intern("card-api");
    let b = names.intern("card-api");
    assert!(Arc::ptr_eq(&a, &b), "one copy per distinct id");
    let other = names.intern("proxy");
    assert!(!Arc::ptr_eq(&a, &other));
    drop(other);
    // Not yet due: nothing pruned.
    names.prune_every(0, 10_000);
    names.prune_every(5_000, 10_000);
    assert_eq!(
        names.lock().0.len(),
        1,
        "'proxy' unused and pruned at the first due time"
    );
    drop((a, b));
    names.prune_every(9_999, 10_000);
    assert_eq!(names.lock().0.len(), 1, "not due again before the period");
    names.prune_every(10_000, 10_000);
    assert!(names.lock().0.is_empty());
}

/// A creation after the KEK's wrapping period, before the sweeper has rotated, rotates with
/// its events: every key's `kek_id` names a KEK whose creation is in the log, before the key.
#[tokio::test]
async fn a_creation_between_sweeps_logs_the_kek_it_rotates_to() {
    let (c, clock, sink) = custody(CustodyConfig {
        kek_rotation_ms: 60_000,
        ..CustodyConfig::default()
    });
    let alice = principal("alice");
    c.create(&alice, CreateRequest::default()).await.unwrap();
    clock.advance_ms(60_000);
    c.create(&alice, CreateRequest::default()).await.unwrap();
    let mut keks = std::collections::HashSet::new();
    let mut wrapped_by = Vec::new();
    for e in sink.events() {
        match e {
            EventBody::KekCreated { kek_id, .. } => {
                keks.insert(kek_id);
            }
            EventBody::KeyCreated { kek_id, .. } => {
                assert!(
                    keks.contains(&kek_id),
                    "key wrapped by unlogged KEK {kek_id}"
                );
                wrapped_by.push(kek_id);
            }
            _ => {}
        }
    }
    assert_eq!(wrapped_by.len(), 2);
    assert_ne!(
        wrapped_by[0], wrapped_by[1],
        "the second key used the new KEK"
    );
}
