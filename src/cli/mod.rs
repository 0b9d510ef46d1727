//! The command line. `main.rs` only parses and calls [`run`]; every command's logic lives in
//! the library.
//!
//! Layer: cli, the top. Each command parses its arguments and calls the layers below; no
//! layer imports this one.

pub mod attest;
mod audit;
pub mod terminal;

use crate::cli::terminal::{CliError, fail, init_logging};

use crate::node::config::Config;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// ok2cry: disposable keys for end-to-end encryption across companies.
#[derive(Debug, Parser)]
#[command(name = "ok2cry", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service.
    Serve(ServeArgs),
    /// Certificates: dev PKI, partner onboarding, revocation.
    #[command(subcommand)]
    Certs(CertsCommand),
    /// Partners authenticating with bearer JWTs.
    #[command(subcommand)]
    Partners(PartnersCommand),
    /// Auditors: verify a log directory or a destruction receipt, offline.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// A witness of audit logs (C2SP tlog-witness): its key and its server.
    #[command(subcommand)]
    Witness(audit::WitnessCommand),
    /// Attestation: verify AWS Nitro or AMD SEV-SNP evidence and the keys it binds; write
    /// release provenance.
    #[command(subcommand)]
    Attest(crate::cli::attest::AttestCommand),
    /// Make an ephemeral key pair of your own (an end user's key, for the reveal flow).
    Keygen {
        /// Where to write the private key (JWK with "d", mode 0600).
        #[arg(long)]
        out: PathBuf,
    },
    /// Seal stdin to a key: a service key token, a JWK or an SPKI PEM. Prints the envelope.
    Seal(SealArgs),
    /// Open an envelope (stdin) with a local key file, and destroy the key file.
    Open {
        /// The private key file written by `ok2cry keygen` (an end user's own key).
        #[arg(long, conflicts_with = "service")]
        key_file: Option<PathBuf>,
        /// The context the sender bound (must match; local keys only — a service key knows its own).
        #[arg(long, default_value = "")]
        context: String,
        /// Keep the key file after opening (it is deleted by default: one key, one message).
        #[arg(long)]
        keep_key: bool,
        /// Or open through the service (the envelope names the key).
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Disposable keys on the service: create, delete.
    #[command(subcommand)]
    Key(KeyCommand),
}

/// How to reach the service (for commands that call it).
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// The service's base URL, e.g. https://localhost:8443.
    #[arg(long, env = "OK2CRY_SERVICE")]
    pub service: Option<String>,
    /// The CA certificate that signed the service's certificate (PEM).
    #[arg(long, env = "OK2CRY_CA", default_value = "dev-pki/ca.pem")]
    pub ca: PathBuf,
    /// Your client certificate (PEM).
    #[arg(long, env = "OK2CRY_CERT", default_value = "dev-pki/card-api.pem")]
    pub cert: PathBuf,
    /// Your client key (PEM).
    #[arg(long, env = "OK2CRY_KEY", default_value = "dev-pki/card-api.key")]
    pub key: PathBuf,
}

/// `ok2cry key …`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a disposable key; prints its key id, token and expiry as JSON.
    Create {
        /// Service connection.
        #[command(flatten)]
        service: ServiceArgs,
        /// Lifetime in seconds.
        #[arg(long)]
        ttl: Option<u64>,
        /// Opens allowed.
        #[arg(long)]
        max_opens: Option<u32>,
        /// The principal allowed to open (default: you).
        #[arg(long)]
        opener: Option<String>,
        /// Context bound into the seal.
        #[arg(long)]
        context: Option<String>,
        /// Label for the audit log.
        #[arg(long)]
        label: Option<String>,
    },
    /// Destroy a key early.
    Delete {
        /// Service connection.
        #[command(flatten)]
        service: ServiceArgs,
        /// The key id.
        key_id: String,
    },
}

/// `ok2cry seal`
#[derive(Debug, Args)]
pub struct SealArgs {
    /// A key token (JWS) file, verified against --jwks.
    #[arg(long, conflicts_with_all = ["jwk", "pem"], requires = "jwks")]
    pub token: Option<PathBuf>,
    /// The service's JWK set (file) to verify --token.
    #[arg(long)]
    pub jwks: Option<PathBuf>,
    /// A public JWK file (an end user's own key).
    #[arg(long, conflicts_with = "pem")]
    pub jwk: Option<PathBuf>,
    /// An SPKI PEM public key file.
    #[arg(long)]
    pub pem: Option<PathBuf>,
    /// Context to bind (for --jwk/--pem; a token carries its own).
    #[arg(long, default_value = "")]
    pub context: String,
    /// Print the compact one-line form (for the Ok2cry-Envelope header) instead of JSON.
    #[arg(long)]
    pub compact: bool,
}

/// `ok2cry serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (TOML).
    #[arg(long, env = "OK2CRY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Make (or reuse) a local dev PKI and configuration under --dev-dir and run with it.
    #[arg(long)]
    pub dev: bool,
    /// Where the dev PKI lives.
    #[arg(long, env = "OK2CRY_DEV_DIR", default_value = "dev-pki")]
    pub dev_dir: PathBuf,
    /// Listen address (overrides the file).
    #[arg(long, env = "OK2CRY_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Node tag (overrides the file).
    #[arg(long, env = "OK2CRY_NODE_ID")]
    pub node_id: Option<String>,
    /// Audit log directory (overrides the file).
    #[arg(long, env = "OK2CRY_AUDIT_DIR")]
    pub audit_dir: Option<PathBuf>,
    /// Log filter (tracing EnvFilter syntax).
    #[arg(long, env = "OK2CRY_LOG", default_value = "info")]
    pub log: String,
}

/// `ok2cry certs …`
#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Create the dev PKI: CA, server certificate, one client certificate per dev role, CRL.
    Dev {
        /// Directory to write into.
        #[arg(long, default_value = "dev-pki")]
        dir: PathBuf,
        /// Replace an existing PKI.
        #[arg(long)]
        force: bool,
    },
    /// Sign a partner's CSR with the CA (ICC direct onboarding).
    SignCsr {
        /// The partner's CSR (PEM).
        #[arg(long)]
        csr: PathBuf,
        /// The principal id to put in the certificate (SAN URI ok2cry://principal/NAME).
        #[arg(long)]
        principal: String,
        /// Validity in days (at most 365).
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Directory holding ca.pem and ca.key.
        #[arg(long, default_value = "dev-pki")]
        ca_dir: PathBuf,
        /// Where to write the certificate (stdout when absent).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Revoke a certificate: adds it to the CA's CRL (crl.pem).
    Revoke {
        /// The certificate to revoke (PEM).
        #[arg(long)]
        cert: PathBuf,
        /// Directory holding ca.pem, ca.key and crl.pem.
        #[arg(long, default_value = "dev-pki")]
        ca_dir: PathBuf,
    },
}

/// `ok2cry partners …`
#[derive(Debug, Subcommand)]
pub enum PartnersCommand {
    /// Register a partner's ES256 public key for bearer JWTs.
    AddJwtKey {
        /// The partner's principal id (the `sub` of its tokens).
        #[arg(long)]
        sub: String,
        /// Key id (the `kid` header of its tokens).
        #[arg(long)]
        kid: String,
        /// The public key (SPKI PEM).
        #[arg(long)]
        key: PathBuf,
        /// The partner keys file named by `jwt.keys_file`.
        #[arg(long, default_value = "dev-pki/jwt-keys.toml")]
        file: PathBuf,
    },
}

/// Runs a parsed command.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Certs(c) => certs(c),
        Command::Partners(p) => partners(p),
        Command::Audit(a) => audit::audit(a).await,
        Command::Witness(w) => audit::witness(w).await,
        Command::Attest(a) => crate::cli::attest::run(a).await,
        Command::Keygen { out } => keygen(&out),
        Command::Seal(args) => seal(args),
        Command::Open {
            key_file,
            context,
            keep_key,
            service,
        } => match key_file {
            Some(file) => open_local(&file, &context, keep_key),
            None => open_service(&service).await,
        },
        Command::Key(k) => key_command(k).await,
    }
}

async fn serve(args: ServeArgs) -> Result<(), CliError> {
    init_logging(&args.log);
    let config_path = match (&args.config, args.dev) {
        (Some(path), false) => path.clone(),
        (None, true) => {
            crate::node::dev::prepare(&args.dev_dir, args.listen).map_err(fail("dev setup"))?
        }
        (Some(_), true) => return Err(CliError("use either --config or --dev, not both".into())),
        (None, false) => {
            return Err(CliError(
                "no configuration: pass --config FILE (or OK2CRY_CONFIG), or --dev for a local dev setup".into(),
            ));
        }
    };
    let mut config = Config::from_file(&config_path).map_err(|e| CliError(e.to_string()))?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(node) = args.node_id {
        config.node_id = node;
    }
    if let Some(dir) = args.audit_dir {
        config.audit.dir = dir;
    }
    config.validate().map_err(|e| CliError(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(fail(&format!("cannot listen on {}", config.listen)))?;
    let addr = listener.local_addr().map_err(fail("listener"))?;
    tracing::info!(%addr, node = %config.node_id, "ok2cry listening (TLS 1.2+, client certificates {})",
        match config.tls.client_auth { crate::auth::tls::ClientAuth::Required => "required", crate::auth::tls::ClientAuth::Optional => "optional" });
    if args.dev {
        crate::node::dev::print_banner(&args.dev_dir, addr);
    }
    crate::node::run_until_signal(config, listener)
        .await
        .map_err(|e| CliError(e.to_string()))
}

fn certs(command: CertsCommand) -> Result<(), CliError> {
    match command {
        CertsCommand::Dev { dir, force } => {
            crate::node::dev::create_pki(&dir, force).map_err(fail("dev PKI"))?;
            println!("dev PKI in {}", dir.display());
            Ok(())
        }
        CertsCommand::SignCsr {
            csr,
            principal,
            days,
            ca_dir,
            out,
        } => {
            let read =
                |p: &Path| std::fs::read_to_string(p).map_err(fail(&p.display().to_string()));
            let cert = crate::auth::pki::sign_csr(
                &read(&ca_dir.join("ca.pem"))?,
                &read(&ca_dir.join("ca.key"))?,
                &read(&csr)?,
                days,
                &principal,
            )
            .map_err(fail("sign-csr"))?;
            match out {
                Some(path) => {
                    std::fs::write(&path, cert).map_err(fail(&path.display().to_string()))
                }
                None => {
                    print!("{cert}");
                    Ok(())
                }
            }
        }
        CertsCommand::Revoke { cert, ca_dir } => {
            let read =
                |p: &Path| std::fs::read_to_string(p).map_err(fail(&p.display().to_string()));
            let crl_path = ca_dir.join("crl.pem");
            let existing = std::fs::read_to_string(&crl_path).ok();
            let crl = crate::auth::pki::revoke(
                &read(&ca_dir.join("ca.pem"))?,
                &read(&ca_dir.join("ca.key"))?,
                existing.as_deref(),
                &read(&cert)?,
            )
            .map_err(fail("revoke"))?;
            std::fs::write(&crl_path, crl).map_err(fail(&crl_path.display().to_string()))?;
            println!(
                "revoked; CRL updated at {} (the service re-reads it hourly and on SIGHUP)",
                crl_path.display()
            );
            Ok(())
        }
    }
}

fn partners(command: PartnersCommand) -> Result<(), CliError> {
    match command {
        PartnersCommand::AddJwtKey {
            sub,
            kid,
            key,
            file,
        } => {
            let pem = std::fs::read_to_string(&key).map_err(fail(&key.display().to_string()))?;
            // Refuse anything that is not a P-256 SPKI now, not at the next start.
            let mut probe =
                crate::auth::bearer::BearerVerifier::new(crate::auth::bearer::BearerSettings {
                    audience: "probe".into(),
                    max_lifetime_secs: 60,
                    clock_skew_secs: 0,
                });
            probe.add_key(&sub, &kid, &pem).map_err(fail("key"))?;
            let stored = std::path::absolute(&key).map_err(fail("key path"))?;
            crate::node::config::add_partner_key(
                &file,
                crate::node::config::PartnerKey {
                    sub,
                    kid,
                    public_key: stored,
                },
            )
            .map_err(|e| CliError(e.to_string()))?;
            println!("registered in {}", file.display());
            Ok(())
        }
    }
}

fn keygen(out: &Path) -> Result<(), CliError> {
    let key = ok2cry_client::LocalKey::generate();
    key.write_private_jwk_file(out)
        .map_err(fail(&out.display().to_string()))?;
    println!(
        "{}",
        serde_json::to_string(&key.public_jwk()).map_err(fail("JWK"))?
    );
    Ok(())
}

fn read_stdin() -> Result<zeroize::Zeroizing<Vec<u8>>, CliError> {
    use std::io::Read;
    let mut buf = zeroize::Zeroizing::new(Vec::new());
    std::io::stdin()
        .read_to_end(&mut buf)
        .map_err(fail("stdin"))?;
    Ok(buf)
}

fn seal(args: SealArgs) -> Result<(), CliError> {
    use ok2cry_client::{Envelope, Jwks, KeyToken, PublicJwk, PublicKey, local_key::key_id_for};
    let read = |p: &Path| std::fs::read_to_string(p).map_err(fail(&p.display().to_string()));
    let plaintext = read_stdin()?;
    let envelope = if let Some(token) = &args.token {
        let jwks_path = args
            .jwks
            .as_ref()
            .ok_or_else(|| CliError("--token needs --jwks".into()))?;
        let jwks = Jwks::from_json(&read(jwks_path)?).map_err(fail("JWK set"))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let key = KeyToken::parse(&read(token)?)
            .and_then(|t| t.verify(&jwks, now))
            .map_err(fail("key token"))?;
        Envelope::seal(&key, &plaintext).map_err(fail("seal"))?
    } else {
        let public = if let Some(jwk) = &args.jwk {
            let jwk = PublicJwk::from_json(&read(jwk)?).map_err(fail("JWK"))?;
            PublicKey::from_jwk(&jwk).map_err(fail("JWK"))?
        } else if let Some(pem) = &args.pem {
            PublicKey::from_spki_pem(&read(pem)?).map_err(fail("PEM"))?
        } else {
            return Err(CliError(
                "name the recipient: --token (with --jwks), --jwk or --pem".into(),
            ));
        };
        Envelope::seal_to(&public, &key_id_for(&public), &args.context, &plaintext)
            .map_err(fail("seal"))?
    };
    println!(
        "{}",
        if args.compact {
            envelope.to_compact()
        } else {
            envelope.to_json()
        }
    );
    Ok(())
}

/// Reads an envelope (JSON or compact form) from stdin, as docs/PROTOCOL.md §10.3 says.
fn read_envelope_stdin() -> Result<ok2cry_client::Envelope, CliError> {
    let input = read_stdin()?;
    let input = std::str::from_utf8(&input).map_err(|_| CliError("envelope is not text".into()))?;
    ok2cry_client::Envelope::parse(input).map_err(fail("envelope"))
}

fn open_local(key_file: &Path, context: &str, keep_key: bool) -> Result<(), CliError> {
    use std::io::Write;
    let key = ok2cry_client::LocalKey::read_private_jwk_file(key_file).map_err(fail("key file"))?;
    let envelope = read_envelope_stdin()?;
    let plaintext = key.open(context, &envelope).map_err(fail("open"))?;
    if !keep_key {
        std::fs::remove_file(key_file).map_err(fail("cannot delete the key file"))?;
    }
    std::io::stdout()
        .write_all(plaintext.expose_secret())
        .map_err(fail("stdout"))
}

fn service_client(args: &ServiceArgs) -> Result<ok2cry_client::http::Ok2cryClient, CliError> {
    let url = args
        .service
        .clone()
        .ok_or_else(|| CliError("name the service: --service URL (or OK2CRY_SERVICE)".into()))?;
    let read = |p: &Path| std::fs::read(p).map_err(fail(&p.display().to_string()));
    ok2cry_client::http::Ok2cryClient::builder(url, &read(&args.ca)?)
        .client_identity(&read(&args.cert)?, &read(&args.key)?)
        .build()
        .map_err(fail("client"))
}

async fn open_service(args: &ServiceArgs) -> Result<(), CliError> {
    use std::io::Write;
    let client = service_client(args)?;
    let envelope = read_envelope_stdin()?;
    let plaintext = client
        .open(envelope.key_id(), &envelope)
        .await
        .map_err(fail("open"))?;
    std::io::stdout()
        .write_all(plaintext.expose_secret())
        .map_err(fail("stdout"))
}

async fn key_command(command: KeyCommand) -> Result<(), CliError> {
    match command {
        KeyCommand::Create {
            service,
            ttl,
            max_opens,
            opener,
            context,
            label,
        } => {
            let client = service_client(&service)?;
            let request = ok2cry_client::http::CreateKey {
                ttl_seconds: ttl,
                max_opens,
                opener,
                context,
                label,
            };
            let key = client.create_key(&request).await.map_err(fail("create"))?;
            println!("{}", serde_json::to_string(&key).map_err(fail("JSON"))?);
            Ok(())
        }
        KeyCommand::Delete { service, key_id } => {
            let client = service_client(&service)?;
            let id = ok2cry_client::KeyId::new(key_id).map_err(fail("key id"))?;
            client.delete_key(&id).await.map_err(fail("delete"))?;
            println!("destroyed {id}");
            Ok(())
        }
    }
}
