//! A real browser does the end user's side of both flows: headless Chromium (Debian's package)
//! driven by playwright-core loads the page the example proxy serves, seals a PIN with
//! @ok2cry/client (sdk/typescript, on @hpke/core and jose) in the page (the card API receives it
//! through ok2cry), and reveals the card number sealed to a key made in the page. Fails — never
//! skips — when Node, npm, Chromium or the built SDK is missing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::zombie_processes
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Procs(Vec<Child>);
impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listening on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn interop() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

#[test]
fn the_browser_sets_a_pin_and_reveals_the_card_number() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "this test needs Debian's Chromium: run scripts/test (it installs what the tests need)"
    );
    common::require_node_packages(&interop(), &["playwright-core"]);
    // The page runs the TypeScript SDK, served by the proxy from sdk/typescript.
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("sdk/typescript");
    common::require_node_packages(&sdk, &["@hpke/core", "jose", "@humanwhocodes/momoa"]);
    assert!(
        sdk.join("dist/index.js").exists(),
        "sdk/typescript is not built: run scripts/test (scripts/test-deps builds it)"
    );
    let bin = Path::new(env!("CARGO_BIN_EXE_ok2cry"))
        .parent()
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let st = Command::new(bin.join("ok2cry"))
        .args(["certs", "dev", "--dir"])
        .arg(&pki)
        .output()
        .unwrap();
    assert!(st.status.success());
    let card_log = dir.path().join("card_api.log");
    let spawn = |cmd: &mut Command, log: &Path| {
        cmd.stdout(std::fs::File::create(log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut procs = Procs(Vec::new());
    procs.0.push(spawn(
        Command::new(bin.join("ok2cry"))
            .args(["serve", "--dev", "--listen", "127.0.0.1:28443", "--dev-dir"])
            .arg(&pki),
        &dir.path().join("ok2cry.log"),
    ));
    wait_port(28443);
    procs.0.push(spawn(
        Command::new(bin.join("examples/card_api"))
            .args([
                "--listen",
                "127.0.0.1:29443",
                "--ok2cry",
                "https://127.0.0.1:28443",
                "--pki",
            ])
            .arg(&pki),
        &card_log,
    ));
    procs.0.push(spawn(
        Command::new(bin.join("examples/proxy"))
            .args([
                "--listen",
                "127.0.0.1:29444",
                "--upstream",
                "https://localhost:29443",
                "--pki",
            ])
            .arg(&pki),
        &dir.path().join("proxy.log"),
    ));
    wait_port(29443);
    wait_port(29444);
    let out = Command::new("node")
        .arg(interop().join("browser.mjs"))
        .args(["--url", "https://localhost:29444/", "--pin", "2468"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "browser: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["errors"], serde_json::json!([]), "{shown}");
    assert_eq!(shown["pinStatus"], "PIN set", "{shown}");
    assert_eq!(shown["pan"], "4000 0000 0000 0042", "{shown}");
    std::thread::sleep(Duration::from_millis(200));
    let card = std::fs::read_to_string(&card_log).unwrap();
    assert!(card.contains("card 42: PIN set (4 digits)"), "{card}");
    let proxy = std::fs::read_to_string(dir.path().join("proxy.log")).unwrap();
    assert!(proxy.contains("Ok2cry-Envelope: v1."), "{proxy}");
    assert!(
        !proxy.contains("2468") && !proxy.contains("4000 0000 0000 0042"),
        "the proxy saw a secret"
    );
}
