//! Properties of seal/open and of the two envelope forms, over generated inputs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ok2cry_client::suite::MAX_CONTEXT_LEN;
use ok2cry_client::{Envelope, Error, KeyId, PrivateKey};
use proptest::prelude::*;
use std::sync::LazyLock;

static KEY: LazyLock<PrivateKey> =
    LazyLock::new(|| PrivateKey::derive_from_ikm(b"property test recipient").unwrap());

fn key_id_strategy() -> impl Strategy<Value = KeyId> {
    "[A-Za-z0-9_-]{1,128}".prop_map(|s| KeyId::new(s).unwrap())
}

fn context_strategy() -> impl Strategy<Value = String> {
    // Any Unicode text up to MAX_CONTEXT_LEN bytes (including the empty context).
    ".{0,80}".prop_filter("context too long", |c: &String| c.len() <= MAX_CONTEXT_LEN)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn seal_then_open_gives_the_plaintext(
        plaintext in proptest::collection::vec(any::<u8>(), 1..2048),
        key_id in key_id_strategy(),
        context in context_strategy(),
    ) {
        let envelope = Envelope::seal_to(&KEY.public_key(), &key_id, &context, &plaintext).unwrap();
        prop_assert_eq!(envelope.sealed().len(), 65 + plaintext.len() + 16);
        let opened = KEY.open(&key_id, &context, &envelope).unwrap();
        prop_assert_eq!(opened.expose_secret(), plaintext.as_slice());
        // Through both wire forms too.
        let via_json = Envelope::from_json(&envelope.to_json()).unwrap();
        let via_compact = Envelope::from_compact(&envelope.to_compact()).unwrap();
        let opened = KEY.open(&key_id, &context, &via_json).unwrap();
        prop_assert_eq!(opened.expose_secret(), plaintext.as_slice());
        let opened = KEY.open(&key_id, &context, &via_compact).unwrap();
        prop_assert_eq!(opened.expose_secret(), plaintext.as_slice());
    }

    #[test]
    fn any_single_bit_flip_in_sealed_fails(
        plaintext in proptest::collection::vec(any::<u8>(), 1..256),
        context in context_strategy(),
        position in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let key_id = KeyId::new("n1_prop").unwrap();
        let envelope = Envelope::seal_to(&KEY.public_key(), &key_id, &context, &plaintext).unwrap();
        let mut sealed = envelope.sealed().to_vec();
        let i = position.index(sealed.len());
        sealed[i] ^= 1 << bit;
        prop_assert_eq!(KEY.open_sealed(&key_id, &context, &sealed).err(), Some(Error::OpenFailed));
    }

    #[test]
    fn json_and_compact_forms_agree(
        plaintext in proptest::collection::vec(any::<u8>(), 1..512),
        key_id in key_id_strategy(),
        context in context_strategy(),
    ) {
        let envelope = Envelope::seal_to(&KEY.public_key(), &key_id, &context, &plaintext).unwrap();
        let from_json = Envelope::from_json(&envelope.to_json()).unwrap();
        let from_compact = Envelope::from_compact(&envelope.to_compact()).unwrap();
        prop_assert_eq!(&from_json, &envelope);
        prop_assert_eq!(&from_compact, &envelope);
        // Converting one form into the other is lossless.
        prop_assert_eq!(from_json.to_compact(), envelope.to_compact());
        prop_assert_eq!(from_compact.to_json(), envelope.to_json());
        prop_assert_eq!(Envelope::from_json_value(envelope.to_json_value()).unwrap(), envelope);
    }

    #[test]
    fn a_different_context_or_key_id_fails(
        plaintext in proptest::collection::vec(any::<u8>(), 1..64),
        context in context_strategy(),
        other in context_strategy(),
        key_id in key_id_strategy(),
        other_id in key_id_strategy(),
    ) {
        let envelope = Envelope::seal_to(&KEY.public_key(), &key_id, &context, &plaintext).unwrap();
        if other != context {
            prop_assert_eq!(
                KEY.open_sealed(&key_id, &other, envelope.sealed()).err(),
                Some(Error::OpenFailed)
            );
        }
        if other_id != key_id {
            prop_assert_eq!(
                KEY.open_sealed(&other_id, &context, envelope.sealed()).err(),
                Some(Error::OpenFailed)
            );
        }
    }
}
