//! `ok2cry serve --dev`: a local setup a new user can run at once.
//!
//! Creates (or reuses) a dev PKI under a directory — CA, server certificate for localhost,
//! 127.0.0.1 and ::1, one client certificate per dev principal, an empty CRL — and a
//! configuration file next to it, then prints how to call the service with curl.
//! Nothing here is for production: the CA key sits on disk next to its certificate.
//!
//! Layer: node. Owns the dev setup's files; only `serve --dev` and `ok2cry certs` reach it,
//! never a production start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The dev principals: (file name, principal id, roles).
pub const DEV_PRINCIPALS: [(&str, &str, &[&str]); 3] = [
    (
        "card-api",
        "ok2cry://principal/card-api",
        &["issuer", "opener"],
    ),
    ("proxy", "ok2cry://principal/proxy", &["issuer", "opener"]),
    ("auditor", "ok2cry://principal/auditor", &["auditor"]),
];

/// Dev setup failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DevError(pub String);

/// Creates the dev PKI in `dir` (reusing a complete one unless `force`).
pub fn create_pki(dir: &Path, force: bool) -> Result<(), DevError> {
    crate::auth::pki::create_dev_pki(dir, crate::auth::pki::DevPkiOptions { force })
        .map(|_| ())
        .map_err(|e| DevError(e.to_string()))
}

/// Creates the PKI if needed and writes `ok2cry.toml` (once); returns the config path.
pub fn prepare(dir: &Path, listen: Option<SocketAddr>) -> Result<PathBuf, DevError> {
    create_pki(dir, false)?;
    let path = dir.join("ok2cry.toml");
    if !path.exists() {
        let listen = listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8443)));
        let mut text = format!(
            r#"# ok2cry dev configuration, written by `ok2cry serve --dev`. Paths are relative to this file.
listen = "{listen}"
node_id = "dev1"
issuer = "https://localhost:{port}"

[tls]
cert = "server.pem"
key = "server.key"
client_ca = ["ca.pem"]
crl = ["crl.pem"]
client_auth = "required"

[audit]
dir = "audit"
# The key that signs the log's checkpoints lives apart from the log.
key_file = "audit-key.pem"
checkpoint_interval_seconds = 10

[hardening]
mlock = "best_effort"

# The development attestation provider: shows the binding flow; proves nothing about the build.
[attestation]
provider = "dev"
"#,
            port = listen.port()
        );
        for (_, id, roles) in DEV_PRINCIPALS {
            let roles: Vec<String> = roles.iter().map(|r| format!("\"{r}\"")).collect();
            text.push_str(&format!(
                "\n[[principals]]\nid = \"{id}\"\nroles = [{}]\n",
                roles.join(", ")
            ));
        }
        std::fs::write(&path, text)
            .map_err(|e| DevError(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(path)
}

/// Tells the user where things are and how to call the service.
pub fn print_banner(dir: &Path, addr: SocketAddr) {
    let d = dir.display();
    println!(
        "\nok2cry dev service on https://{addr}\n\
         dev PKI and config: {d}/ (CA ca.pem; client certs card-api, proxy, auditor)\n\n\
         try:\n  curl --cacert {d}/ca.pem --cert {d}/card-api.pem --key {d}/card-api.key \\\n       \
         -H 'content-type: application/json' -d '{{\"ttl_seconds\": 60}}' https://localhost:{port}/v1/keys\n\n\
         stop with Ctrl-C (every key is destroyed and the destruction logged in {d}/audit/)\n",
        port = addr.port()
    );
}
