//! The audit archive against a real S3 server: Garage (built once per machine by
//! scripts/test-deps, run here as a separate process on 127.0.0.1, never linked).
//!
//! A node archives its sealed segments to a bucket, reads each upload back, and removes its
//! local copies; `ok2cry audit verify` then passes from the archive alone and from the archive
//! under the local directory. A corrupted archived object is caught before the local copy
//! goes, and archived again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Options, TestServer, create};
use ok2cry::audit::archive::{
    ArchiveStore, Archiver, Location, Retention, S3Endpoint, S3Keys, events_object,
};
use ok2cry::audit::layout;
use ok2cry::clock::{Clock, ManualClock};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where scripts/test-deps installs Garage (under OK2CRY_CACHE, default ~/.cache/ok2cry), or
/// OK2CRY_GARAGE.
fn garage_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("OK2CRY_GARAGE") {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("OK2CRY_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").map(PathBuf::from).unwrap();
            home.join(".cache/ok2cry")
        });
    cache.join("garage-2.5.0/bin/garage")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A single-node Garage on loopback with one bucket and one key.
struct Garage {
    child: Child,
    endpoint: String,
    bucket: String,
    key_id: String,
    secret: String,
    _dir: tempfile::TempDir,
}

impl Garage {
    fn start() -> Self {
        let bin = garage_bin();
        assert!(
            bin.exists(),
            "Garage is not installed at {}: run scripts/test-deps (it builds it once per machine)",
            bin.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let (rpc, s3, admin) = (free_port(), free_port(), free_port());
        let secret: String = (0..32)
            .map(|i| format!("{:02x}", (i * 37 + 11) % 256))
            .collect();
        let config = dir.path().join("garage.toml");
        std::fs::write(
            &config,
            format!(
                r#"metadata_dir = "{d}/meta"
data_dir = "{d}/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:{rpc}"
rpc_public_addr = "127.0.0.1:{rpc}"
rpc_secret = "{secret}"
[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:{s3}"
root_domain = ".s3.garage.localhost"
[admin]
api_bind_addr = "127.0.0.1:{admin}"
admin_token = "test-admin-token"
"#,
                d = dir.path().display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("garage.log")).unwrap();
        let child = Command::new(&bin)
            .args(["-c", config.to_str().unwrap(), "server"])
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        // Once the server answers over RPC (`node id` alone may read the key from disk
        // before the server listens).
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = Command::new(&bin)
                .args(["-c", config.to_str().unwrap(), "status"])
                .output()
                .unwrap();
            if out.status.success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "Garage did not start: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let id = garage_cli(&config, &["node", "id", "-q"]);
        let node_id = id.split('@').next().unwrap().trim().to_owned();
        garage_cli(
            &config,
            &["layout", "assign", "-z", "dc1", "-c", "1G", &node_id],
        );
        garage_cli(&config, &["layout", "apply", "--version", "1"]);
        let bucket = "ok2cry-audit".to_owned();
        garage_cli(&config, &["bucket", "create", &bucket]);
        let key = garage_cli(&config, &["key", "create", "ok2cry-node"]);
        let field = |name: &str| {
            key.lines()
                .find_map(|l| l.trim().strip_prefix(name))
                .map(|v| v.trim().trim_start_matches(':').trim().to_owned())
                .unwrap_or_else(|| panic!("no {name} in {key}"))
        };
        let (key_id, secret) = (field("Key ID"), field("Secret key"));
        garage_cli(
            &config,
            &[
                "bucket",
                "allow",
                "--read",
                "--write",
                &bucket,
                "--key",
                "ok2cry-node",
            ],
        );
        Garage {
            child,
            endpoint: format!("http://127.0.0.1:{s3}"),
            bucket,
            key_id,
            secret,
            _dir: dir,
        }
    }

    fn store(&self, prefix: &str) -> ArchiveStore {
        ArchiveStore::open(
            Location::parse(&format!("s3://{}/{prefix}", self.bucket)).unwrap(),
            Some(&S3Endpoint {
                url: self.endpoint.clone(),
                region: "garage".into(),
            }),
            Some(S3Keys::new(&self.key_id, &self.secret)),
        )
        .unwrap()
    }

    /// `ok2cry audit verify` with this bucket's keys in the environment.
    fn verify(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_ok2cry"))
            .args([
                "audit",
                "verify",
                "--s3-endpoint",
                &self.endpoint,
                "--s3-region",
                "garage",
            ])
            .args(args)
            .env("AWS_ACCESS_KEY_ID", &self.key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret)
            .output()
            .unwrap()
    }
}

fn garage_cli(config: &Path, args: &[&str]) -> String {
    let out = Command::new(garage_bin())
        .args(["-c", config.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "garage {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Drop for Garage {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn removed_locally(dir: &Path) -> Vec<u64> {
    layout::segment_numbers(dir)
        .unwrap()
        .into_iter()
        .filter(|&n| {
            !layout::segment_path(dir, n).exists()
                && ok2cry::audit::archive::mark_path(dir, n).exists()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_archives_to_s3_and_the_archive_alone_verifies() {
    let garage = Garage::start();
    let pki = tempfile::tempdir().unwrap();
    let creds = pki.path().join("s3.toml");
    std::fs::write(
        &creds,
        format!(
            "access_key_id = \"{}\"\nsecret_access_key = \"{}\"\n",
            garage.key_id, garage.secret
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let server = TestServer::start_with(Options {
        replace: vec![(
            "checkpoint_interval_seconds = 10".into(),
            "checkpoint_interval_seconds = 1\nsegment_max_bytes = 4096".into(),
        )],
        extra_toml: format!(
            "\n[audit.archive]\nto = \"s3://{}/node-1\"\nendpoint = \"{}\"\nregion = \"garage\"\ncredentials_file = \"{}\"\ninterval_seconds = 1\n\n[audit.keep_local]\nmax_bytes = 1\n",
            garage.bucket,
            garage.endpoint,
            creds.display()
        ),
        ..Options::default()
    })
    .await;
    let log_dir = server.audit.dir().to_path_buf();
    let vkey = server.audit.log_key().vkey();
    for _ in 0..40 {
        create(&server, "card-api", json!({})).await;
    }
    // Archived, read back and removed locally within a few passes.
    let deadline = Instant::now() + Duration::from_secs(60);
    while removed_locally(&log_dir).len() < 3 {
        assert!(
            Instant::now() < deadline,
            "segments were not archived: {:?}",
            std::fs::read_dir(&log_dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = server.state.metrics.render();
    assert!(
        metrics.contains("ok2cry_audit_archived_segments_total"),
        "{metrics}"
    );
    assert!(metrics.contains("ok2cry_audit_archive_failures_total 0"));
    let names = garage.store("node-1").list().await.unwrap();
    for n in removed_locally(&log_dir) {
        assert!(names.contains(&events_object(n)), "{names:?}");
    }
    assert!(names.contains(&"FORMAT".to_owned()) && names.contains(&"ORIGIN".to_owned()));
    let _kept = server.stop().await;

    // The archive alone verifies, with the CLI and the bucket's keys.
    let archive = format!("s3://{}/node-1", garage.bucket);
    let alone = garage.verify(&["--archive", &archive, "--key", &vkey]);
    let text = String::from_utf8_lossy(&alone.stdout);
    assert!(
        alone.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&alone.stderr)
    );
    // Under the local directory: the whole log, from its first leaf.
    let dir = log_dir;
    let both = garage.verify(&[
        "--archive",
        &archive,
        "--dir",
        dir.to_str().unwrap(),
        "--key",
        &vkey,
        "--json",
    ]);
    assert!(
        both.status.success(),
        "{}{}",
        String::from_utf8_lossy(&both.stdout),
        String::from_utf8_lossy(&both.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&both.stdout).unwrap();
    assert_eq!(report["first_leaf"], 0, "{report}");
    // The local directory alone says that its start is elsewhere.
    let local = Command::new(env!("CARGO_BIN_EXE_ok2cry"))
        .args([
            "audit",
            "verify",
            "--dir",
            dir.to_str().unwrap(),
            "--key",
            &vkey,
            "--json",
        ])
        .output()
        .unwrap();
    assert!(local.status.success());
    let report: serde_json::Value = serde_json::from_slice(&local.stdout).unwrap();
    assert!(report["first_leaf"].as_u64().unwrap() > 0, "{report}");
    // Wrong keys are refused by the server, and said so without the secret.
    let wrong = Command::new(env!("CARGO_BIN_EXE_ok2cry"))
        .args(["audit", "verify", "--archive", &archive, "--key", &vkey])
        .args(["--s3-endpoint", &garage.endpoint, "--s3-region", "garage"])
        .env("AWS_ACCESS_KEY_ID", &garage.key_id)
        .env("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&wrong.stdout),
        String::from_utf8_lossy(&wrong.stderr)
    );
    assert!(said.contains("403"), "{said}");
    assert!(!said.contains("not-the-secret") && !said.contains("X-Amz-Signature"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_object_in_s3_is_caught_and_the_local_copy_kept() {
    use ok2cry::audit::{AuditLog, AuditOptions, EventBody};
    let garage = Garage::start();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("audit");
    const T0: u64 = 1_900_000_000_000;
    const DAY: u64 = 24 * 3600 * 1000;
    let clock = ManualClock::new(T0);
    let mut opts = AuditOptions::new(dir.clone(), "n1", root.path().join("audit-key.pem"));
    opts.segment_max_bytes = 4096;
    let (log, _) = AuditLog::open(opts, Arc::new(clock.clone())).unwrap();
    for _ in 0..100 {
        log.append_durable(vec![EventBody::ServiceStarted {
            signing_keys: vec!["a-thumbprint".into()],
        }])
        .await
        .unwrap();
        log.checkpoint_now().await.unwrap();
        clock.advance_ms(10);
    }
    let store = Arc::new(garage.store("n1"));
    let archiver = |retention| {
        Archiver::new(
            dir.clone(),
            log.origin().to_owned(),
            store.clone(),
            retention,
            Arc::new(clock.clone()),
        )
    };
    let keep_a_day = Retention {
        keep_local_ms: Some(DAY),
        keep_local_bytes: None,
        archive_ms: None,
    };
    let first = archiver(keep_a_day).pass().await;
    assert!(first.failures.is_empty(), "{:?}", first.failures);
    assert!(first.archived.len() >= 2, "{first:?}");
    let n = first.archived[0];

    // Someone alters the archived object; the check before removal catches it.
    let mut zst = store.get(&events_object(n)).await.unwrap().unwrap();
    let last = zst.len() - 1;
    zst[last] ^= 0xff;
    store.put(&events_object(n), zst).await.unwrap();
    clock.advance_ms(2 * DAY);
    let caught = archiver(keep_a_day).pass().await;
    assert_eq!(caught.failures.len(), 1, "{caught:?}");
    assert!(caught.failures[0].contains("missing or altered"));
    assert!(caught.removed_local.is_empty());
    assert!(layout::segment_path(&dir, n).exists());

    // Archived again, checked, and only then removed locally.
    let healed = archiver(keep_a_day).pass().await;
    assert!(healed.failures.is_empty(), "{:?}", healed.failures);
    assert_eq!(healed.archived, vec![n]);
    assert_eq!(healed.removed_local, first.archived);
    assert!(!layout::segment_path(&dir, n).exists());
    assert!(clock.now_ms() > T0);
    log.close().await.unwrap();
}
