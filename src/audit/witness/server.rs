//! The witness: `ok2cry witness serve`.
//!
//! Configuration (TOML):
//!
//! ```toml
//! name = "witness.example/w1"          # key name on cosignatures
//! listen = "127.0.0.1:7380"
//! key_file = "witness-key.pem"         # Ed25519 PKCS#8 (`ok2cry witness keygen`)
//! state_file = "witness-state.json"    # the latest cosigned checkpoint per log
//!
//! [[logs]]
//! origin = "ok2cry.audit/n1"
//! keys = ["ok2cry.audit/n1+1a2b3c4d+Ai…"]   # the log's verifier key(s)
//! ```
//!
//! The check of the old size and the update of the state happen under one lock, and the new
//! state is on disk (written atomically, fsynced) before the cosignature is returned.

use super::origin_hash;
use super::protocol::{AddCheckpoint, MAX_REQUEST_BYTES, SIZE_CONTENT_TYPE};
use crate::audit::disk::{Disk, RealDisk, write_atomic};
use crate::audit::merkle::{empty_root, verify_consistency};
use crate::audit::note::{Cosigner, NoteVerifier};
use crate::clock::Clock;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// `witness.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// The witness's key name.
    pub name: String,
    /// Listen address.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The Ed25519 key (PKCS#8 PEM).
    pub key_file: PathBuf,
    /// The state file.
    pub state_file: PathBuf,
    /// The logs it witnesses.
    #[serde(default)]
    pub logs: Vec<LogConfig>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7380))
}

/// One witnessed log.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// The checkpoint origin.
    pub origin: String,
    /// The log's verifier keys (vkeys).
    pub keys: Vec<String>,
}

impl WitnessConfig {
    /// Reads a configuration file; relative paths are taken from its folder.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut c: Self = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if let Some(base) = path.parent() {
            for p in [&mut c.key_file, &mut c.state_file] {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        }
        Ok(c)
    }
}

/// What the witness remembers of one log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogState {
    /// The size it last cosigned.
    pub size: u64,
    /// That tree's root (base64).
    pub root: String,
    /// The checkpoint with the log's signature and this witness's cosignature.
    pub checkpoint: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    version: u8,
    logs: BTreeMap<String, LogState>,
}

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Status.
    pub status: StatusCode,
    /// Content type.
    pub content_type: &'static str,
    /// Body.
    pub body: String,
}

impl Answer {
    fn text(status: StatusCode, body: impl Into<String>) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, self.content_type)],
            self.body,
        )
            .into_response()
    }
}

/// A witness (cheap to share).
pub struct Witness {
    cosigner: Cosigner,
    logs: BTreeMap<String, Vec<NoteVerifier>>,
    state: Mutex<StateFile>,
    state_file: PathBuf,
    clock: Arc<dyn Clock>,
    disk: Arc<dyn Disk>,
}

impl Witness {
    /// A witness from its configuration (loading its key and state).
    pub fn new(config: &WitnessConfig, clock: Arc<dyn Clock>) -> Result<Self, String> {
        let pem = std::fs::read_to_string(&config.key_file)
            .map_err(|e| format!("cannot read {}: {e}", config.key_file.display()))?;
        let der = pem::parse(pem.as_bytes())
            .map_err(|e| format!("{}: {e}", config.key_file.display()))?;
        let cosigner = Cosigner::from_pkcs8(&config.name, der.contents())?;
        let mut logs = BTreeMap::new();
        for log in &config.logs {
            let keys: Result<Vec<_>, _> = log
                .keys
                .iter()
                .map(|k| NoteVerifier::from_vkey(k).map_err(|e| format!("log {}: {e}", log.origin)))
                .collect();
            let keys = keys?;
            if keys.iter().any(NoteVerifier::is_cosigner) {
                return Err(format!(
                    "log {}: a log key must be a log (ECDSA) key",
                    log.origin
                ));
            }
            logs.insert(log.origin.clone(), keys);
        }
        let state = match std::fs::read_to_string(&config.state_file) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| format!("{}: {e}", config.state_file.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => StateFile {
                version: 1,
                logs: BTreeMap::new(),
            },
            Err(e) => return Err(format!("cannot read {}: {e}", config.state_file.display())),
        };
        Ok(Self {
            cosigner,
            logs,
            state: Mutex::new(state),
            state_file: config.state_file.clone(),
            clock,
            disk: Arc::new(RealDisk),
        })
    }

    /// The witness's verifier key (vkey), for the logs and auditors that trust it.
    pub fn vkey(&self) -> String {
        self.cosigner
            .verifier()
            .map(|v| v.vkey())
            .unwrap_or_default()
    }

    /// What it remembers of `origin`.
    pub fn state_of(&self, origin: &str) -> Option<LogState> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .logs
            .get(origin)
            .cloned()
    }

    /// `POST <prefix>/add-checkpoint`.
    pub fn add_checkpoint(&self, body: &str) -> Answer {
        let Some(req) = AddCheckpoint::parse(body) else {
            return Answer::text(
                StatusCode::BAD_REQUEST,
                "malformed add-checkpoint request\n",
            );
        };
        let Ok(cp) = req.note.checkpoint() else {
            return Answer::text(StatusCode::BAD_REQUEST, "not a checkpoint\n");
        };
        let Some(keys) = self.logs.get(&cp.origin) else {
            return Answer::text(StatusCode::NOT_FOUND, "unknown log origin\n");
        };
        match req.note.verify(keys) {
            Ok(signed) if signed.iter().any(Option::is_some) => {}
            Ok(_) => {
                return Answer::text(StatusCode::FORBIDDEN, "no signature by a key of this log\n");
            }
            Err(_) => {
                return Answer::text(
                    StatusCode::FORBIDDEN,
                    "a signature by a key of this log does not verify\n",
                );
            }
        }
        if req.old > cp.size {
            return Answer::text(
                StatusCode::BAD_REQUEST,
                "old size is larger than the checkpoint\n",
            );
        }
        // Check and update under one lock, so two requests cannot roll the state back.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let known = state.logs.get(&cp.origin).cloned();
        let known_size = known.as_ref().map_or(0, |k| k.size);
        if req.old != known_size {
            return Answer {
                status: StatusCode::CONFLICT,
                content_type: SIZE_CONTENT_TYPE,
                body: format!("{known_size}\n"),
            };
        }
        if cp.size == 0 && cp.root != empty_root() {
            return Answer::text(
                StatusCode::UNPROCESSABLE_ENTITY,
                "a tree of size 0 has the empty root\n",
            );
        }
        if req.old == 0 {
            if !req.proof.is_empty() {
                return Answer::text(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "no proof is needed from size 0\n",
                );
            }
        } else {
            let Some(old_root) = known
                .as_ref()
                .and_then(|k| Base64::decode_vec(&k.root).ok())
                .and_then(|r| <[u8; 32]>::try_from(r).ok())
            else {
                return Answer::text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "witness state unreadable\n",
                );
            };
            if req.old == cp.size {
                if old_root != cp.root {
                    return Answer::text(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "same size, another root: the log forked\n",
                    );
                }
            } else if !verify_consistency(req.old, cp.size, &old_root, &cp.root, &req.proof) {
                return Answer::text(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "the consistency proof does not verify: the log is not an extension of what was cosigned\n",
                );
            }
        }
        let timestamp = (self.clock.now_ms() / 1000).max(1);
        let Some(sig) = self.cosigner.cosign(&req.note.text, timestamp) else {
            return Answer::text(StatusCode::INTERNAL_SERVER_ERROR, "cannot cosign\n");
        };
        let mut cosigned = req.note.clone();
        cosigned.signatures.retain(|s| s.name != sig.name);
        cosigned.merge([sig.clone()]);
        state.logs.insert(
            cp.origin.clone(),
            LogState {
                size: cp.size,
                root: Base64::encode_string(&cp.root),
                checkpoint: cosigned.render(),
            },
        );
        let text = match serde_json::to_string_pretty(&*state) {
            Ok(t) => t,
            Err(_) => {
                return Answer::text(StatusCode::INTERNAL_SERVER_ERROR, "cannot save state\n");
            }
        };
        if let Err(e) = write_atomic(&self.state_file, text.as_bytes(), 0o600, &self.disk) {
            tracing::error!(error = %e, "cannot persist the witness state");
            // Nothing was promised yet: put the previous state back.
            match known {
                Some(k) => state.logs.insert(cp.origin.clone(), k),
                None => state.logs.remove(&cp.origin),
            };
            return Answer::text(StatusCode::SERVICE_UNAVAILABLE, "cannot persist state\n");
        }
        tracing::info!(origin = %cp.origin, size = cp.size, "cosigned");
        Answer::text(StatusCode::OK, sig.line())
    }

    /// `GET <prefix>/<origin hash>/checkpoint`.
    pub fn latest(&self, hash: &str) -> Answer {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match state.logs.iter().find(|(o, _)| origin_hash(o) == hash) {
            Some((_, s)) => Answer::text(StatusCode::OK, s.checkpoint.clone()),
            None => Answer::text(
                StatusCode::NOT_FOUND,
                "no checkpoint cosigned for this log\n",
            ),
        }
    }
}

/// The witness's HTTP routes (submission and monitoring prefixes are the root).
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/{origin_hash}/checkpoint", get(latest))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(witness)
}

async fn add_checkpoint(State(w): State<Arc<Witness>>, body: Bytes) -> Answer {
    match std::str::from_utf8(&body) {
        Ok(text) => w.add_checkpoint(text),
        Err(_) => Answer::text(StatusCode::BAD_REQUEST, "not UTF-8\n"),
    }
}

async fn latest(State(w): State<Arc<Witness>>, UrlPath(hash): UrlPath<String>) -> Answer {
    w.latest(&hash)
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    witness: Arc<Witness>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(witness))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Makes a witness key: writes it (PKCS#8 PEM, 0600, refusing to overwrite) and returns its
/// vkey.
pub fn keygen(name: &str, out: &Path) -> Result<String, String> {
    if out.exists() {
        return Err(format!("{} exists; not overwriting a key", out.display()));
    }
    let (cosigner, der) = Cosigner::generate(name)?;
    let pem = zeroize::Zeroizing::new(pem::encode(&pem::Pem::new("PRIVATE KEY", der.to_vec())));
    let disk: Arc<dyn Disk> = Arc::new(RealDisk);
    write_atomic(out, pem.as_bytes(), 0o600, &disk).map_err(|e| e.to_string())?;
    cosigner
        .verifier()
        .map(|v| v.vkey())
        .ok_or_else(|| "cannot derive the key's vkey".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::merkle::{Frontier, consistency_proof, leaf_hash};
    use crate::audit::note::{AuditSigner, Checkpoint, Note};
    use crate::audit::witness::protocol::{AddCheckpoint, parse_cosignatures, parse_size};
    use crate::clock::ManualClock;

    struct Fixture {
        _dir: tempfile::TempDir,
        witness: Witness,
        log: AuditSigner,
        leaves: Vec<[u8; 32]>,
        verifier: NoteVerifier,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("w.pem");
        let vkey = keygen("witness.test/w1", &key_file).unwrap();
        let log = AuditSigner::generate("ok2cry.audit/n1");
        let config = WitnessConfig {
            name: "witness.test/w1".into(),
            listen: default_listen(),
            key_file,
            state_file: dir.path().join("state.json"),
            logs: vec![LogConfig {
                origin: "ok2cry.audit/n1".into(),
                keys: vec![log.verifier().unwrap().vkey()],
            }],
        };
        let witness = Witness::new(&config, Arc::new(ManualClock::new(1_800_000_000_000))).unwrap();
        assert_eq!(witness.vkey(), vkey);
        let leaves = (0..100u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        Fixture {
            _dir: dir,
            witness,
            log,
            leaves,
            verifier: NoteVerifier::from_vkey(&vkey).unwrap(),
        }
    }

    impl Fixture {
        fn note(&self, size: usize) -> Note {
            let mut f = Frontier::new();
            for l in &self.leaves[..size] {
                f.push(*l);
            }
            let cp = Checkpoint {
                origin: "ok2cry.audit/n1".into(),
                size: size as u64,
                root: f.root(),
            };
            Note::parse(&self.log.sign(&cp)).unwrap()
        }

        fn submit(&self, old: usize, size: usize) -> Answer {
            let proof = if old == 0 || old >= size {
                Vec::new()
            } else {
                consistency_proof(old, &self.leaves[..size]).unwrap()
            };
            let req = AddCheckpoint {
                old: old as u64,
                proof,
                note: self.note(size),
            };
            self.witness.add_checkpoint(&req.render())
        }
    }

    #[test]
    fn cosigns_a_growing_log_and_refuses_rollback_and_forks() {
        let f = fixture();
        let a = f.submit(0, 10);
        assert_eq!(a.status, StatusCode::OK, "{a:?}");
        let sigs = parse_cosignatures(&a.body).unwrap();
        let mut note = f.note(10);
        note.merge(sigs);
        assert!(note.verify(std::slice::from_ref(&f.verifier)).unwrap()[0].is_some());
        // Growth with a proof.
        assert_eq!(f.submit(10, 40).status, StatusCode::OK);
        // The same size again with the same root is fine.
        assert_eq!(f.submit(40, 40).status, StatusCode::OK);
        // A stale old size: 409 with the witness's size.
        let c = f.submit(10, 50);
        assert_eq!(c.status, StatusCode::CONFLICT);
        assert_eq!(c.content_type, SIZE_CONTENT_TYPE);
        assert_eq!(parse_size(&c.body), Some(40));
        // A rollback: a smaller tree.
        assert_eq!(f.submit(40, 30).status, StatusCode::BAD_REQUEST);
        assert_eq!(f.submit(0, 30).status, StatusCode::CONFLICT);
        // A fork: another history of the same size, or a proof that does not hold.
        let mut forked = f.note(40);
        forked.text = forked.text.replace(
            &Base64::encode_string(&Checkpoint::parse_body(&forked.text).unwrap().root),
            &Base64::encode_string(&[9u8; 32]),
        );
        forked.signatures = vec![f.log.sign_text(&forked.text)];
        let req = AddCheckpoint {
            old: 40,
            proof: vec![],
            note: forked,
        };
        assert_eq!(
            f.witness.add_checkpoint(&req.render()).status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let mut bad = AddCheckpoint::parse(&{
            let proof = consistency_proof(40, &f.leaves[..60]).unwrap();
            AddCheckpoint {
                old: 40,
                proof,
                note: f.note(60),
            }
            .render()
        })
        .unwrap();
        bad.proof[0][0] ^= 1;
        assert_eq!(
            f.witness.add_checkpoint(&bad.render()).status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(f.witness.state_of("ok2cry.audit/n1").unwrap().size, 40);
        // The monitoring endpoint serves the cosigned checkpoint.
        let latest = f.witness.latest(&origin_hash("ok2cry.audit/n1"));
        assert_eq!(latest.status, StatusCode::OK);
        let n = Note::parse(&latest.body).unwrap();
        assert_eq!(n.checkpoint().unwrap().size, 40);
        assert!(n.verify(std::slice::from_ref(&f.verifier)).unwrap()[0].is_some());
        assert_eq!(f.witness.latest("00").status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn refuses_unknown_logs_and_bad_signatures() {
        let f = fixture();
        // Another key signing for the origin: 403.
        let other = AuditSigner::generate("ok2cry.audit/n1");
        let cp = Checkpoint {
            origin: "ok2cry.audit/n1".into(),
            size: 1,
            root: f.leaves[0],
        };
        let req = AddCheckpoint {
            old: 0,
            proof: vec![],
            note: Note::parse(&other.sign(&cp)).unwrap(),
        };
        assert_eq!(
            f.witness.add_checkpoint(&req.render()).status,
            StatusCode::FORBIDDEN
        );
        // A known key whose signature fails: 403.
        let mut tampered = f.note(1);
        tampered.signatures[0].signature[10] ^= 1;
        let req = AddCheckpoint {
            old: 0,
            proof: vec![],
            note: tampered,
        };
        assert_eq!(
            f.witness.add_checkpoint(&req.render()).status,
            StatusCode::FORBIDDEN
        );
        // Unknown origin: 404.
        let cp = Checkpoint {
            origin: "elsewhere/log".into(),
            size: 1,
            root: f.leaves[0],
        };
        let req = AddCheckpoint {
            old: 0,
            proof: vec![],
            note: Note::parse(&f.log.sign(&cp)).unwrap(),
        };
        assert_eq!(
            f.witness.add_checkpoint(&req.render()).status,
            StatusCode::NOT_FOUND
        );
        // Size 0 with another root than the empty tree's: 422.
        let cp = Checkpoint {
            origin: "ok2cry.audit/n1".into(),
            size: 0,
            root: [1u8; 32],
        };
        let req = AddCheckpoint {
            old: 0,
            proof: vec![],
            note: Note::parse(&f.log.sign(&cp)).unwrap(),
        };
        assert_eq!(
            f.witness.add_checkpoint(&req.render()).status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        // A proof from size 0: 422.
        let req = AddCheckpoint {
            old: 0,
            proof: vec![[0u8; 32]],
            note: f.note(5),
        };
        assert_eq!(
            f.witness.add_checkpoint(&req.render()).status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        // The C2SP example itself: its origin is unknown here, so 404.
        let example = "old 0\n\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";
        assert_eq!(
            f.witness.add_checkpoint(example).status,
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn the_state_survives_a_restart() {
        let f = fixture();
        assert_eq!(f.submit(0, 20).status, StatusCode::OK);
        let config = WitnessConfig {
            name: "witness.test/w1".into(),
            listen: default_listen(),
            key_file: f._dir.path().join("w.pem"),
            state_file: f._dir.path().join("state.json"),
            logs: vec![LogConfig {
                origin: "ok2cry.audit/n1".into(),
                keys: vec![f.log.verifier().unwrap().vkey()],
            }],
        };
        let again = Witness::new(&config, Arc::new(ManualClock::new(1_800_000_100_000))).unwrap();
        assert_eq!(again.state_of("ok2cry.audit/n1").unwrap().size, 20);
        let c = {
            let req = AddCheckpoint {
                old: 0,
                proof: vec![],
                note: f.note(25),
            };
            again.add_checkpoint(&req.render())
        };
        assert_eq!(parse_size(&c.body), Some(20));
    }
}
