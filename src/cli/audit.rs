//! `ok2cry audit …` and `ok2cry witness …`: thin commands over [`crate::audit`].

use crate::audit::archive::{ArchiveSource, ArchiveStore, Layered, Location, S3Endpoint, S3Keys};
use crate::audit::note::NoteVerifier;
use crate::audit::source::tiles::TilesSource;
use crate::audit::source::{LocalDir, LogSource};
use crate::audit::verify::{Since, VerifyOptions, read_since, verify_source};
use crate::audit::witness::origin_hash;
use crate::audit::witness::server::{Witness, WitnessConfig, keygen};
use crate::cli::terminal::{CliError, fail, init_logging};
use clap::Subcommand;
use std::path::PathBuf;
use std::sync::Arc;

/// `ok2cry audit …`
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run
pub enum AuditCommand {
    /// Verify a whole log directory: signatures, the tree, witnesses, destruction policy.
    Verify {
        /// The log directory (with --archive: read first; the archive for what is no longer
        /// in it).
        #[arg(long, required_unless_present_any = ["archive", "tiles"])]
        dir: Option<PathBuf>,
        /// A node's base URL (`https://node:8443`): its log is read as C2SP tlog-tiles from
        /// `/v1/audit/tlog/`, as the auditor (--ca, --cert, --client-key).
        #[arg(long, conflicts_with_all = ["dir", "archive"], requires_all = ["ca", "cert", "client_key"])]
        tiles: Option<String>,
        /// With --tiles: the CA that signed the node's certificate (PEM).
        #[arg(long)]
        ca: Option<PathBuf>,
        /// With --tiles: your auditor client certificate (PEM).
        #[arg(long)]
        cert: Option<PathBuf>,
        /// With --tiles: your client key (PEM).
        #[arg(long)]
        client_key: Option<PathBuf>,
        /// The log's archive: `s3://bucket/prefix` or a directory (S3 keys from
        /// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).
        #[arg(long)]
        archive: Option<String>,
        /// The S3 endpoint of an s3:// archive.
        #[arg(long, requires = "archive")]
        s3_endpoint: Option<String>,
        /// The S3 signing region.
        #[arg(long, requires = "archive", default_value = "us-east-1")]
        s3_region: String,
        /// The audit key you trust: a file with its SPKI PEM or its verifier key
        /// (`name+id+base64`), or the verifier key itself.
        #[arg(long)]
        key: String,
        /// The log's origin (the key name), when `--key` is a PEM (default: from the log).
        #[arg(long, alias = "name")]
        origin: Option<String>,
        /// A witness key you trust (`name+id+base64`; repeatable).
        #[arg(long = "witness")]
        witnesses: Vec<String>,
        /// A witness's monitoring URL prefix: its latest cosigned checkpoint of this log is
        /// fetched and must be in the log (repeatable).
        #[arg(long = "witness-url")]
        witness_urls: Vec<String>,
        /// Cosignatures the newest checkpoint must carry (default: all given witnesses).
        #[arg(long)]
        quorum: Option<usize>,
        /// A checkpoint you saved earlier (a signed note): the log must contain it
        /// (repeatable).
        #[arg(long = "checkpoint")]
        checkpoints: Vec<PathBuf>,
        /// Verify only what follows a state saved with --save-state (or a checkpoint you
        /// saved).
        #[arg(long)]
        since: Option<PathBuf>,
        /// Save the verifier's state at the newest checkpoint, for the next --since.
        #[arg(long)]
        save_state: Option<PathBuf>,
        /// Allowed time between a key's expiry and its logged destruction, in ms.
        #[arg(long, default_value_t = 1000)]
        grace_ms: u64,
        /// Print progress on standard error.
        #[arg(long)]
        progress: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make an audit key before the first start (so witnesses can be told its verifier key
    /// first); prints the verifier key.
    Keygen {
        /// Where to write the key (PKCS#8 PEM, 0600; its public key goes beside it).
        #[arg(long)]
        out: PathBuf,
        /// The log's origin (default `ok2cry.audit/<node>`).
        #[arg(long)]
        origin: String,
    },
    /// Print the log's verifier key (for witnesses and auditors) from its public key.
    Vkey {
        /// The audit public key (SPKI PEM).
        #[arg(long)]
        key: PathBuf,
        /// The log's origin (default `ok2cry.audit/<node>`).
        #[arg(long)]
        origin: String,
    },
    /// Destruction receipts.
    #[command(subcommand)]
    Receipt(ReceiptCommand),
    /// Write a folder to verify a log offline in a browser: a copy of the log (segments,
    /// checkpoints, cosignatures) and the auditor's page; without --dir, the page alone.
    Export {
        /// The log directory.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The folder to write (new, or empty).
        #[arg(long)]
        out: PathBuf,
        /// Only segments from this number on (earlier ones are then not verified).
        #[arg(long, requires = "dir")]
        from_segment: Option<u64>,
    },
}

/// `ok2cry audit receipt …`
#[derive(Debug, Subcommand)]
pub enum ReceiptCommand {
    /// Verify one receipt offline.
    Verify {
        /// The audit key you trust (PEM file, vkey file or vkey).
        #[arg(long)]
        key: String,
        /// A witness key you trust (repeatable).
        #[arg(long = "witness")]
        witnesses: Vec<String>,
        /// Cosignatures its checkpoint must carry (default: all given witnesses).
        #[arg(long)]
        quorum: Option<usize>,
        /// The receipt (JSON), as returned by GET /v1/audit/receipts/{key_id}.
        receipt: PathBuf,
    },
}

/// `ok2cry witness …`
#[derive(Debug, Subcommand)]
pub enum WitnessCommand {
    /// Make a witness key (Ed25519, 0600) and print its verifier key.
    Keygen {
        /// The witness's name (a schema-less URL, e.g. witness.example/w1).
        #[arg(long)]
        name: String,
        /// Where to write the key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Run a witness.
    Serve {
        /// Its configuration (TOML).
        #[arg(long)]
        config: PathBuf,
        /// Log filter.
        #[arg(long, env = "OK2CRY_LOG", default_value = "info")]
        log: String,
    },
}

/// The text of `arg`: a file's content if it names a file, else the argument itself.
fn text_of(arg: &str) -> Result<String, CliError> {
    let path = std::path::Path::new(arg);
    if path.exists() {
        std::fs::read_to_string(path).map_err(fail(arg))
    } else {
        Ok(arg.to_owned())
    }
}

/// A log key from a PEM or a vkey; a PEM needs the origin (given, or read from the log).
fn log_key(arg: &str, origin: Option<&str>) -> Result<NoteVerifier, CliError> {
    let text = text_of(arg)?;
    if text.contains("BEGIN PUBLIC KEY") {
        let origin = origin.ok_or_else(|| {
            CliError(
                "the key is a PEM: pass --origin (the log's origin, e.g. ok2cry.audit/n1)".into(),
            )
        })?;
        return NoteVerifier::ecdsa_from_pem(origin, &text)
            .ok_or_else(|| CliError(format!("{arg}: not a P-256 public key")));
    }
    let key = NoteVerifier::from_vkey(text.trim()).map_err(|e| CliError(format!("--key: {e}")))?;
    if key.is_cosigner() {
        return Err(CliError(
            "--key is a witness key; pass the log's key".into(),
        ));
    }
    Ok(key)
}

fn witness_keys(args: &[String]) -> Result<Vec<NoteVerifier>, CliError> {
    args.iter()
        .map(|a| {
            let k = NoteVerifier::from_vkey(text_of(a)?.trim())
                .map_err(|e| CliError(format!("--witness {a}: {e}")))?;
            if !k.is_cosigner() {
                return Err(CliError(format!(
                    "--witness {a}: not a witness (cosigner) key"
                )));
            }
            Ok(k)
        })
        .collect()
}

/// The origin written in the log's newest checkpoint (to name a PEM key).
fn origin_in(src: &dyn LogSource) -> Option<String> {
    let numbers = src.segment_numbers().ok()?;
    numbers.iter().rev().find_map(|n| {
        src.checkpoints(*n)
            .into_iter()
            .filter_map(Result::ok)
            .find_map(|r| {
                crate::audit::note::Note::parse(&r.note)
                    .ok()?
                    .checkpoint()
                    .ok()
                    .map(|c| c.origin)
            })
    })
}

/// The auditor's mTLS client for `--tiles`: only the given CA, TLS 1.2+, no redirects.
fn tiles_client(
    ca: Option<&std::path::Path>,
    cert: Option<&std::path::Path>,
    key: Option<&std::path::Path>,
) -> Result<reqwest::Client, CliError> {
    let (Some(ca), Some(cert), Some(key)) = (ca, cert, key) else {
        return Err(CliError(
            "--tiles needs --ca, --cert and --client-key".into(),
        ));
    };
    let read = |p: &std::path::Path| std::fs::read(p).map_err(fail(&p.display().to_string()));
    let roots = reqwest::Certificate::from_pem_bundle(&read(ca)?).map_err(fail("--ca"))?;
    let mut identity = read(cert)?;
    identity.extend(read(key)?);
    let identity = reqwest::Identity::from_pem(&identity).map_err(fail("--cert/--client-key"))?;
    reqwest::Client::builder()
        .tls_backend_rustls()
        .tls_certs_only(roots)
        .tls_version_min(reqwest::tls::Version::TLS_1_2)
        .https_only(true)
        .identity(identity)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .map_err(fail("TLS client"))
}

/// Opens `--archive` (S3 keys from the environment).
fn open_archive(
    location: &str,
    endpoint: Option<String>,
    region: String,
) -> Result<std::sync::Arc<ArchiveStore>, CliError> {
    let location = Location::parse(location).map_err(|e| CliError(e.to_string()))?;
    let store = match &location {
        Location::Dir(_) => ArchiveStore::open(location, None, None),
        Location::S3 { .. } => {
            let endpoint = endpoint
                .map(|url| S3Endpoint { url, region })
                .ok_or_else(|| CliError("an s3:// archive needs --s3-endpoint".into()))?;
            let keys = S3Keys::from_env().map_err(|e| CliError(e.to_string()))?;
            ArchiveStore::open(location, Some(&endpoint), Some(keys))
        }
    };
    store
        .map(std::sync::Arc::new)
        .map_err(|e| CliError(e.to_string()))
}

pub(super) async fn audit(command: AuditCommand) -> Result<(), CliError> {
    match command {
        AuditCommand::Verify {
            dir,
            tiles,
            ca,
            cert,
            client_key,
            archive,
            s3_endpoint,
            s3_region,
            key,
            origin,
            witnesses,
            witness_urls,
            quorum,
            checkpoints,
            since,
            save_state,
            grace_ms,
            progress,
            json,
        } => {
            if let (Some(dir), None) = (&dir, &archive)
                && crate::audit::v1::is_v1(dir)
            {
                return verify_v1(dir, &key, origin.as_deref(), grace_ms, json);
            }
            let archive = match archive {
                Some(a) => Some(open_archive(&a, s3_endpoint, s3_region)?),
                None => None,
            };
            let runtime = tokio::runtime::Handle::current();
            let src: Box<dyn LogSource> = match (dir, archive) {
                _ if tiles.is_some() => {
                    let base = tiles.unwrap_or_default();
                    let http = tiles_client(ca.as_deref(), cert.as_deref(), client_key.as_deref())?;
                    Box::new(TilesSource::new(
                        &format!("{}/v1/audit/tlog", base.trim_end_matches('/')),
                        http,
                        runtime,
                    ))
                }
                (Some(d), None) => Box::new(LocalDir::new(&d)),
                (None, Some(a)) => Box::new(ArchiveSource::new(a, runtime)),
                (Some(d), Some(a)) => Box::new(Layered::new(
                    LocalDir::new(&d),
                    ArchiveSource::new(a, runtime),
                )),
                (None, None) => return Err(CliError("--dir or --archive is needed".into())),
            };
            let (src, origin) = tokio::task::spawn_blocking(move || {
                let origin = origin.or_else(|| origin_in(&*src));
                (src, origin)
            })
            .await
            .map_err(fail("verifier"))?;
            let log_key = log_key(&key, origin.as_deref())?;
            let witnesses = witness_keys(&witnesses)?;
            let quorum = quorum.unwrap_or(witnesses.len());
            if quorum > witnesses.len() {
                return Err(CliError(
                    "--quorum is larger than the number of --witness keys".into(),
                ));
            }
            let mut held = Vec::new();
            for f in &checkpoints {
                held.push(std::fs::read_to_string(f).map_err(fail(&f.display().to_string()))?);
            }
            for url in &witness_urls {
                held.push(fetch_witness_checkpoint(url, log_key.name(), &witnesses).await?);
            }
            let since: Option<Since> = match &since {
                Some(f) => Some(
                    read_since(
                        &std::fs::read_to_string(f).map_err(fail(&f.display().to_string()))?,
                    )
                    .map_err(CliError)?,
                ),
                None => None,
            };
            let opts = VerifyOptions {
                log_keys: vec![log_key],
                witnesses,
                quorum,
                grace_ms,
                checkpoints: held,
                since,
            };
            let report = tokio::task::spawn_blocking(move || {
                verify_source(&*src, &opts, |p| {
                    if progress {
                        eprintln!("verified {} events in {} segment(s)", p.leaves, p.segments);
                    }
                })
            })
            .await
            .map_err(fail("verifier"))?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                );
            } else {
                print!("{}", report.render(grace_ms));
            }
            if let (Some(path), Some(state)) = (&save_state, &report.resume) {
                let text = serde_json::to_string_pretty(state).map_err(fail("state"))?;
                std::fs::write(path, text).map_err(fail(&path.display().to_string()))?;
                eprintln!("state saved at checkpoint: {}", path.display());
            }
            if report.is_ok() {
                Ok(())
            } else {
                Err(CliError(format!(
                    "{} violation(s)",
                    report.violations.len()
                )))
            }
        }
        AuditCommand::Keygen { out, origin } => {
            if out.exists() {
                return Err(CliError(format!(
                    "{} exists; not overwriting a key",
                    out.display()
                )));
            }
            let signer = crate::audit::note::AuditSigner::generate(&origin);
            let pem = signer
                .to_pkcs8_pem()
                .ok_or_else(|| CliError("cannot encode the key".into()))?;
            ok2cry_client::secret_file::write(
                &out,
                pem.as_bytes(),
                ok2cry_client::secret_file::Existing::Refuse,
            )
            .map_err(fail(&out.display().to_string()))?;
            std::fs::write(out.with_extension("pub.pem"), signer.public_key_pem())
                .map_err(fail(&out.display().to_string()))?;
            let v = signer
                .verifier()
                .ok_or_else(|| CliError("cannot derive the verifier key".into()))?;
            println!("{}", v.vkey());
            Ok(())
        }
        AuditCommand::Vkey { key, origin } => {
            let pem = std::fs::read_to_string(&key).map_err(fail(&key.display().to_string()))?;
            let v = NoteVerifier::ecdsa_from_pem(&origin, &pem)
                .ok_or_else(|| CliError(format!("{}: not a P-256 public key", key.display())))?;
            println!("{}", v.vkey());
            Ok(())
        }
        AuditCommand::Export {
            dir,
            out,
            from_segment,
        } => export(dir.as_deref(), &out, from_segment),
        AuditCommand::Receipt(ReceiptCommand::Verify {
            key,
            witnesses,
            quorum,
            receipt,
        }) => {
            let text =
                std::fs::read_to_string(&receipt).map_err(fail(&receipt.display().to_string()))?;
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(fail("receipt is not JSON"))?;
            if value["version"] == 1 {
                return verify_receipt_v1(&key, &text);
            }
            let parsed: crate::audit::Receipt = serde_json::from_value(value)
                .map_err(fail("receipt is not a receipt JSON document"))?;
            let log_key = log_key(&key, Some(&parsed.origin))?;
            let witnesses = witness_keys(&witnesses)?;
            let quorum = quorum.unwrap_or(witnesses.len());
            let summary = crate::audit::verify_receipt(&parsed, &[log_key], &witnesses, quorum)
                .map_err(|e| CliError(e.to_string()))?;
            println!(
                "verified: key {} created {} expires {} destroyed {} ({}), {} open(s), destroyed {} ms {} expiry; checkpoint size {}, {} witness cosignature(s)",
                summary.key_id,
                summary.created_at,
                summary.expires_at,
                summary.destroyed_at,
                summary.reason,
                summary.opens,
                summary.lag_ms.unsigned_abs(),
                if summary.lag_ms >= 0 {
                    "after"
                } else {
                    "before"
                },
                summary.checkpoint_size,
                summary.witnesses,
            );
            Ok(())
        }
    }
}

fn export(
    dir: Option<&std::path::Path>,
    out: &std::path::Path,
    from_segment: Option<u64>,
) -> Result<(), CliError> {
    use crate::http::auditor_view::export::{ExportOptions, export, write_page};
    let Some(dir) = dir else {
        let page = write_page(out).map_err(|e| CliError(e.to_string()))?;
        println!(
            "wrote the auditor's page: {} (open it, then choose a log folder)",
            page.display()
        );
        return Ok(());
    };
    let summary =
        export(dir, out, &ExportOptions { from_segment }).map_err(|e| CliError(e.to_string()))?;
    let range = summary
        .range
        .map(|(a, b)| format!(" ({a} to {b})"))
        .unwrap_or_default();
    println!(
        "exported {} segment(s){range}, {} bytes, to {}\nopen {} in a browser, or verify with: ok2cry audit verify --dir {} --key AUDIT-KEY",
        summary.segments,
        summary.bytes,
        out.display(),
        out.join("index.html").display(),
        out.join("log").display()
    );
    Ok(())
}

/// A witness's latest cosigned checkpoint of `origin` (C2SP monitoring API).
async fn fetch_witness_checkpoint(
    url: &str,
    origin: &str,
    witnesses: &[NoteVerifier],
) -> Result<String, CliError> {
    let full = format!(
        "{}/{}/checkpoint",
        url.trim_end_matches('/'),
        origin_hash(origin)
    );
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .map_err(fail("HTTP client"))?;
    let response = client.get(&full).send().await.map_err(fail(&full))?;
    if !response.status().is_success() {
        return Err(CliError(format!("{full}: HTTP {}", response.status())));
    }
    let text = response.text().await.map_err(fail(&full))?;
    let note = crate::audit::note::Note::parse(&text).map_err(fail(&full))?;
    if !witnesses.is_empty() {
        let signed = note.verify(witnesses).map_err(fail(&full))?;
        if signed.iter().all(Option::is_none) {
            return Err(CliError(format!(
                "{full}: the checkpoint carries no cosignature by a witness key you gave"
            )));
        }
    }
    Ok(text)
}

fn verify_v1(
    dir: &std::path::Path,
    key: &str,
    name: Option<&str>,
    grace_ms: u64,
    json: bool,
) -> Result<(), CliError> {
    let pem = text_of(key)?;
    let name = match name {
        Some(n) => n.to_owned(),
        None => crate::audit::v1::verify::key_name_in(dir).ok_or_else(|| {
            CliError("no checkpoint found to take the key name from; pass --origin".into())
        })?,
    };
    let report = crate::audit::v1::verify::verify_log(dir, &pem, &name, grace_ms);
    eprintln!(
        "note: {} holds a log of format 1 (one tree per segment)",
        dir.display()
    );
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print!("{}", report.render(grace_ms));
    }
    if report.is_ok() {
        Ok(())
    } else {
        Err(CliError(format!(
            "{} violation(s)",
            report.violations.len()
        )))
    }
}

fn verify_receipt_v1(key: &str, text: &str) -> Result<(), CliError> {
    let pem = text_of(key)?;
    let parsed: crate::audit::v1::receipt::Receipt =
        serde_json::from_str(text).map_err(fail("receipt is not a receipt JSON document"))?;
    let summary = crate::audit::v1::receipt::verify_receipt(&parsed, &pem)
        .map_err(|e| CliError(e.to_string()))?;
    println!(
        "verified (format 1): key {} created {} expires {} destroyed {} ({}), {} open(s)",
        summary.key_id,
        summary.created_at,
        summary.expires_at,
        summary.destroyed_at,
        summary.reason,
        summary.opens
    );
    Ok(())
}

pub(super) async fn witness(command: WitnessCommand) -> Result<(), CliError> {
    match command {
        WitnessCommand::Keygen { name, out } => {
            let vkey = keygen(&name, &out).map_err(CliError)?;
            println!("{vkey}");
            Ok(())
        }
        WitnessCommand::Serve { config, log } => {
            init_logging(&log);
            let config = WitnessConfig::from_file(&config).map_err(CliError)?;
            let witness = Arc::new(
                Witness::new(&config, Arc::new(crate::clock::SystemClock)).map_err(CliError)?,
            );
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .map_err(fail(&format!("cannot listen on {}", config.listen)))?;
            let addr = listener.local_addr().map_err(fail("listener"))?;
            tracing::info!(%addr, vkey = %witness.vkey(), "witness serving");
            println!("witness {} listening on http://{addr}", config.name);
            let signals = crate::node::shutdown_signal().map_err(fail("signals"))?;
            crate::audit::witness::server::serve(witness, listener, signals)
                .await
                .map_err(fail("witness"))
        }
    }
}
