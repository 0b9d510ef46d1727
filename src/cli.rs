//! The command line. `main.rs` only parses and calls [`run`]; every command's logic lives in
//! the library.

use crate::config::Config;
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
    Audit(AuditCommand),
}

/// `ok2cry audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify a whole log directory: signatures, trees, links, sequence, destruction policy.
    Verify {
        /// The log directory (segment-*.jsonl and their checkpoints).
        #[arg(long)]
        dir: PathBuf,
        /// The audit public key (SPKI PEM), obtained out of band.
        #[arg(long)]
        key: PathBuf,
        /// The key name on signature lines (default: the name found in the checkpoints).
        #[arg(long)]
        name: Option<String>,
        /// Allowed time between a key's expiry and its logged destruction, in ms.
        #[arg(long, default_value_t = 1000)]
        grace_ms: u64,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Destruction receipts.
    #[command(subcommand)]
    Receipt(ReceiptCommand),
}

/// `ok2cry audit receipt …`
#[derive(Debug, Subcommand)]
pub enum ReceiptCommand {
    /// Verify one receipt offline.
    Verify {
        /// The audit public key (SPKI PEM).
        #[arg(long)]
        key: PathBuf,
        /// The receipt (JSON), as returned by GET /v1/audit/receipts/{key_id}.
        receipt: PathBuf,
    },
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

/// A command failed; the text is for the person at the terminal.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

fn fail<E: std::fmt::Display>(context: &str) -> impl Fn(E) -> CliError + '_ {
    move |e| CliError(format!("{context}: {e}"))
}

/// Runs a parsed command.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Certs(c) => certs(c),
        Command::Partners(p) => partners(p),
        Command::Audit(a) => audit(a),
    }
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal, so logs written to files and pipes stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi)
        .try_init();
}

async fn serve(args: ServeArgs) -> Result<(), CliError> {
    init_logging(&args.log);
    let config_path = match (&args.config, args.dev) {
        (Some(path), false) => path.clone(),
        (None, true) => {
            crate::dev::prepare(&args.dev_dir, args.listen).map_err(fail("dev setup"))?
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
        match config.tls.client_auth { crate::config::ClientAuthMode::Required => "required", crate::config::ClientAuthMode::Optional => "optional" });
    if args.dev {
        crate::dev::print_banner(&args.dev_dir, addr);
    }
    crate::node::run_until_signal(config, listener)
        .await
        .map_err(|e| CliError(e.to_string()))
}

fn certs(command: CertsCommand) -> Result<(), CliError> {
    match command {
        CertsCommand::Dev { dir, force } => {
            crate::dev::create_pki(&dir, force).map_err(fail("dev PKI"))?;
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
            let cert = crate::pki::sign_csr(
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
            let crl = crate::pki::revoke(
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
            let mut probe = crate::bearer::BearerVerifier::new(crate::bearer::BearerSettings {
                audience: "probe".into(),
                max_lifetime_secs: 60,
                clock_skew_secs: 0,
            });
            probe.add_key(&sub, &kid, &pem).map_err(fail("key"))?;
            let stored = std::path::absolute(&key).map_err(fail("key path"))?;
            crate::config::add_partner_key(
                &file,
                crate::config::PartnerKey {
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

fn audit(command: AuditCommand) -> Result<(), CliError> {
    match command {
        AuditCommand::Verify { dir, key, name, grace_ms, json } => {
            let pem = std::fs::read_to_string(&key).map_err(fail(&key.display().to_string()))?;
            let name = match name {
                Some(n) => n,
                None => crate::audit::verify::key_name_in(&dir)
                    .ok_or_else(|| CliError("no checkpoint found to take the key name from; pass --name".into()))?,
            };
            let report = crate::audit::verify_log(&dir, &pem, &name, grace_ms);
            if json {
                println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            } else {
                print!("{}", report.render(grace_ms));
            }
            if report.is_ok() {
                Ok(())
            } else {
                Err(CliError(format!("{} violation(s)", report.violations.len())))
            }
        }
        AuditCommand::Receipt(ReceiptCommand::Verify { key, receipt }) => {
            let pem = std::fs::read_to_string(&key).map_err(fail(&key.display().to_string()))?;
            let text = std::fs::read_to_string(&receipt).map_err(fail(&receipt.display().to_string()))?;
            let parsed: crate::audit::Receipt =
                serde_json::from_str(&text).map_err(fail("receipt is not a receipt JSON document"))?;
            let summary = crate::audit::verify_receipt(&parsed, &pem).map_err(|e| CliError(e.to_string()))?;
            println!(
                "verified: key {} created {} expires {} destroyed {} ({}), {} open(s), destroyed {} ms {} expiry",
                summary.key_id,
                summary.created_at,
                summary.expires_at,
                summary.destroyed_at,
                summary.reason,
                summary.opens,
                summary.lag_ms.unsigned_abs(),
                if summary.lag_ms >= 0 { "after" } else { "before" }
            );
            Ok(())
        }
    }
}
