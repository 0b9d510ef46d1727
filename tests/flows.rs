//! The two flows end to end as separate processes over HTTPS (examples/demo.sh): ok2cry, a
//! card API, a fintech proxy and an end user; the proxy's log holds no PIN and no card number.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

#[test]
fn set_pin_and_reveal_through_a_proxy_that_sees_only_ciphertext() {
    let bin = Path::new(env!("CARGO_BIN_EXE_ok2cry"))
        .parent()
        .unwrap()
        .to_owned();
    for example in ["card_api", "proxy", "end_user"] {
        assert!(
            bin.join("examples").join(example).exists(),
            "example {example} not built (cargo test builds examples)"
        );
    }
    let out = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo.sh"))
        .env("OK2CRY_DEMO_BIN", &bin)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("[user] PIN sealed and sent: card API answered 204"),
        "{stdout}"
    );
    assert!(
        stdout.contains("PIN set (4 digits); ok2cry destroyed the key"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[user] revealed card number: 4000 0000 0000 0042"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[proxy] -> POST /cards/42/pin Ok2cry-Envelope: v1."),
        "{stdout}"
    );
    assert!(stdout.contains("OK: the proxy only ever held"), "{stdout}");
}
