//! The RFC 9180 test vectors of the STRONG suite (`../shared/vectors/hpke/`), shared by the
//! tests that check our HPKE code against them (`rfc9180.rs`, `providers.rs`).

use serde::Deserialize;

#[derive(Deserialize)]
pub struct Vector {
    pub mode: u8,
    pub kem_id: u16,
    pub kdf_id: u16,
    pub aead_id: u16,
    pub info: String,
    #[serde(rename = "ikmR")]
    pub ikm_r: String,
    #[serde(rename = "ikmE")]
    pub ikm_e: String,
    #[serde(rename = "skRm")]
    pub sk_rm: String,
    #[serde(rename = "skEm")]
    pub sk_em: String,
    #[serde(rename = "pkRm")]
    pub pk_rm: String,
    #[serde(rename = "pkEm")]
    pub pk_em: String,
    pub enc: String,
    pub shared_secret: String,
    pub key_schedule_context: String,
    pub secret: String,
    pub key: String,
    pub base_nonce: String,
    pub exporter_secret: String,
    pub encryptions: Vec<Encryption>,
    pub exports: Vec<Export>,
}

#[derive(Deserialize)]
pub struct Encryption {
    pub aad: String,
    pub ct: String,
    pub nonce: String,
    pub pt: String,
}

#[derive(Deserialize)]
pub struct Export {
    pub exporter_context: String,
    #[serde(rename = "L")]
    pub len: usize,
    pub exported_value: String,
}

pub const ENCRYPTIONS_PER_VECTOR: usize = 257;
/// The CFRG file holds one vector per mode for this suite; one of them is base mode.
pub const BASE_MODE_VECTORS: usize = 1;

/// The base-mode vectors of the STRONG suite, checked for shape.
pub fn base_mode() -> Vec<Vector> {
    let path = super::shared_vectors_dir()
        .join("hpke")
        .join("rfc9180-p256-hkdfsha256-aes256gcm.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the RFC 9180 vectors at {} ({e}); set OK2CRY_SHARED to the shared/ \
             directory",
            path.display()
        )
    });
    let all: Vec<Vector> = serde_json::from_str(&text).expect("RFC 9180 vector file");
    assert_eq!(all.len(), 4, "one vector per mode for this suite");
    for v in &all {
        assert_eq!((v.kem_id, v.kdf_id, v.aead_id), (0x0010, 0x0001, 0x0002));
        assert_eq!(v.encryptions.len(), ENCRYPTIONS_PER_VECTOR);
    }
    let base: Vec<Vector> = all.into_iter().filter(|v| v.mode == 0).collect();
    assert_eq!(base.len(), BASE_MODE_VECTORS);
    base
}
