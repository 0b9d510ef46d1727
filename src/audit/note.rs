//! Signed checkpoints: C2SP `tlog-checkpoint` bodies in C2SP `signed-note` envelopes.
//!
//! ```text
//! <origin>\n<tree size>\n<base64 root hash>\n
//! \n
//! — <key name> <base64(key ID (4 bytes) || signature)>\n
//! ```
//!
//! Signature type 0x02 of the signed-note spec (ECDSA, as implemented by transparency-dev's
//! witness): ECDSA P-256 with SHA-256 over the note text, the signature DER-encoded; the key
//! ID is the first four bytes of SHA-256 over the DER SubjectPublicKeyInfo of the key.

use super::merkle::Hash;
use base64ct::{Base64, Encoding};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use p256::elliptic_curve::Generate;
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A parsed checkpoint body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
}

impl Checkpoint {
    /// The note text (with its final newline).
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            Base64::encode_string(&self.root)
        )
    }

    /// Parses a note text.
    pub fn parse_body(text: &str) -> Option<Self> {
        let mut lines = text.strip_suffix('\n')?.split('\n');
        let origin = lines.next()?.to_owned();
        let size = lines.next()?.parse().ok()?;
        let root: Hash = Base64::decode_vec(lines.next()?).ok()?.try_into().ok()?;
        // Extension lines are allowed by the format; ok2cry writes none.
        if origin.is_empty() {
            return None;
        }
        Some(Self { origin, size, root })
    }
}

fn key_id(public: &VerifyingKey) -> Option<[u8; 4]> {
    let der = public.to_public_key_der().ok()?;
    let digest = Sha256::digest(der.as_bytes());
    Some([digest[0], digest[1], digest[2], digest[3]])
}

/// The audit signing key. A secret type: derives nothing; the key zeroizes on drop.
pub struct AuditSigner {
    key: SigningKey,
    name: String,
}

impl AuditSigner {
    /// A fresh key named `name`.
    pub fn generate(name: &str) -> Self {
        Self {
            key: SigningKey::generate(),
            name: name.to_owned(),
        }
    }

    /// Loads a PKCS#8 PEM key.
    pub fn from_pkcs8_pem(pem: &str, name: &str) -> Option<Self> {
        Some(Self {
            key: SigningKey::from_pkcs8_pem(pem).ok()?,
            name: name.to_owned(),
        })
    }

    /// The key as PKCS#8 PEM (zeroizing).
    pub fn to_pkcs8_pem(&self) -> Option<zeroize::Zeroizing<String>> {
        self.key.to_pkcs8_pem(LineEnding::LF).ok()
    }

    /// The public key as SPKI PEM.
    pub fn public_key_pem(&self) -> String {
        self.key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    /// The key name on signature lines.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Signs `checkpoint` into a signed note.
    pub fn sign(&self, checkpoint: &Checkpoint) -> String {
        let body = checkpoint.body();
        let signature: DerSignature = self.key.sign(body.as_bytes());
        let mut blob = key_id(self.key.verifying_key())
            .unwrap_or_default()
            .to_vec();
        blob.extend_from_slice(signature.as_bytes());
        format!(
            "{body}\n\u{2014} {} {}\n",
            self.name,
            Base64::encode_string(&blob)
        )
    }
}

/// Verifies a signed checkpoint note against `public_key_pem` and `name`; returns the
/// checkpoint when a signature by that key verifies.
pub fn verify_note(note: &str, public_key_pem: &str, name: &str) -> Option<Checkpoint> {
    let key = VerifyingKey::from_public_key_pem(public_key_pem.trim()).ok()?;
    let id = key_id(&key)?;
    let (body, sigs) = note.split_once("\n\n")?;
    let body = format!("{body}\n");
    if body.chars().any(|c| c.is_control() && c != '\n') {
        return None;
    }
    let mut verified = false;
    for line in sigs.lines() {
        let rest = line.strip_prefix("\u{2014} ")?;
        let (line_name, b64) = rest.rsplit_once(' ')?;
        let blob = Base64::decode_vec(b64).ok()?;
        if line_name != name || blob.len() < 5 || !bool::from(blob[..4].ct_eq(&id)) {
            continue; // unknown key: ignored, as the spec says
        }
        let signature = DerSignature::try_from(&blob[4..]).ok()?;
        if key.verify(body.as_bytes(), &signature).is_err() {
            return None; // a known key's signature that fails rejects the note
        }
        verified = true;
    }
    if verified {
        Checkpoint::parse_body(&body)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_and_refuse_tampering() {
        let signer = AuditSigner::generate("ok2cry.test/audit");
        let cp = Checkpoint {
            origin: "ok2cry.test/n1/1".into(),
            size: 42,
            root: [7u8; 32],
        };
        let note = signer.sign(&cp);
        assert!(note.contains("\n\n\u{2014} ok2cry.test/audit "));
        let pem = signer.public_key_pem();
        assert_eq!(verify_note(&note, &pem, "ok2cry.test/audit"), Some(cp));
        // Tampered size, root, signature; another key; wrong name.
        assert_eq!(
            verify_note(&note.replace("\n42\n", "\n43\n"), &pem, "ok2cry.test/audit"),
            None
        );
        let other = AuditSigner::generate("ok2cry.test/audit");
        assert_eq!(
            verify_note(&note, &other.public_key_pem(), "ok2cry.test/audit"),
            None
        );
        assert_eq!(verify_note(&note, &pem, "someone-else"), None);
        let sig_start = note.rfind(' ').unwrap() + 10;
        let mut bytes = note.clone().into_bytes();
        bytes[sig_start] = if bytes[sig_start] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            verify_note(
                &String::from_utf8(bytes).unwrap(),
                &pem,
                "ok2cry.test/audit"
            ),
            None
        );
    }
}
