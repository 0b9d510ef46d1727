//! `ok2cry attest …`: verify attestation evidence and what it binds; write release provenance.
//!
//! `attest verify` takes evidence of either kind (an AWS Nitro document, ok2cry's SEV-SNP
//! evidence, or a bare SEV-SNP report with its VCEK and AMD chain), alone or inside the JSON
//! that `GET /v1/attestation` returns, from a file or fetched live with `--url`. It says which
//! platform attested, exactly what was verified, and what was **not** checked (and which flag
//! would check it). For the JSON it also checks the binding: that the evidence commits to the
//! JWKS thumbprints and audit key digest listed, and that the JWKS (and audit key) the relying
//! party uses are those; `--url` fetches all of them itself, with a fresh random nonce.
//!
//! Files are read with a limit enforced while reading ([`MAX_FILE_LEN`]): `--document
//! /dev/zero` is refused after 64 KiB + 1 bytes.
//!
//! Layer: cli. Verification is `ok2cry-attestation`'s; this module reads files, fetches and
//! prints.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand};
use ok2cry_attestation::response::{AttestationResponse, MAX_RESPONSE_LEN};
use ok2cry_attestation::sev_snp::{SevSnpEvidence, SevSnpPolicy, TcbMinimum, VerifiedSevSnp};
use ok2cry_attestation::{
    AttestationDocument, AttestationError, Binding, Platform, Policy, RootFingerprint, Verified,
    VerifiedAttestation, Verifier, read_at_most,
};
use ok2cry_client::attested::{
    AttestedError, AttestedService, AuditKeyCheck, verify_service_attestation,
};

use crate::cli::terminal::{CliError, fail};

/// The most a file given to `attest verify` may hold: the JSON of `GET /v1/attestation`
/// (evidence alone is at most 16 KiB).
pub const MAX_FILE_LEN: usize = MAX_RESPONSE_LEN;

/// `ok2cry attest …`
#[derive(Debug, Subcommand)]
pub enum AttestCommand {
    /// Verify attestation evidence (AWS Nitro or AMD SEV-SNP; raw, or the JSON that
    /// GET /v1/attestation returns, from a file or fetched with --url) and what it binds: the
    /// service's JWKS and audit key. Prints what was verified and what was not checked.
    Verify(Box<VerifyArgs>),
    /// Write an in-toto release provenance statement (source commit, binary digest, PCRs).
    Provenance {
        /// The binary.
        #[arg(long)]
        binary: PathBuf,
        /// The git commit it was built from.
        #[arg(long)]
        commit: String,
        /// The source repository URI.
        #[arg(long, default_value = "git+https://example.invalid/ok2cry")]
        source: String,
        /// Who built it.
        #[arg(long, default_value = "local")]
        builder: String,
        /// PCR0, PCR1, PCR2 in hex as printed by nitro-cli build-enclave.
        #[arg(long, num_args = 3)]
        pcrs: Vec<String>,
    },
}

/// `ok2cry attest verify`
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The evidence file: a Nitro attestation document (COSE_Sign1), ok2cry SEV-SNP evidence, a
    /// bare SEV-SNP report (binary or hex; with --vcek and --cert-chain), or the JSON that
    /// GET /v1/attestation returns. At most 64 KiB is read.
    #[arg(long, required_unless_present = "url", conflicts_with = "url")]
    pub document: Option<PathBuf>,
    /// Fetch fresh evidence (with a random nonce), the JWKS and, when your certificate has the
    /// auditor role, the audit key from this node (e.g. https://node:8443), and check them all.
    #[arg(long)]
    pub url: Option<String>,
    /// With --url: the CA certificate that signed the node's certificate (PEM).
    #[arg(long, env = "OK2CRY_CA", default_value = "dev-pki/ca.pem")]
    pub ca: PathBuf,
    /// With --url: your client certificate (PEM).
    #[arg(long, env = "OK2CRY_CERT", default_value = "dev-pki/card-api.pem")]
    pub cert: PathBuf,
    /// With --url: your client key (PEM).
    #[arg(long, env = "OK2CRY_KEY", default_value = "dev-pki/card-api.key")]
    pub key: PathBuf,
    /// With the JSON in --document: the JWK set you use (a file with the JWKS JSON); checked to
    /// be exactly the set the evidence commits to.
    #[arg(long, conflicts_with = "url")]
    pub jwks: Option<PathBuf>,
    /// With the JSON in --document: the audit public key you use (SPKI PEM); checked to be the
    /// one the evidence commits to.
    #[arg(long, conflicts_with = "url")]
    pub audit_key: Option<PathBuf>,
    /// A bare SEV-SNP report's VCEK certificate (DER or PEM).
    #[arg(long, requires = "cert_chain", conflicts_with = "url")]
    pub vcek: Option<PathBuf>,
    /// A bare SEV-SNP report's AMD certificate chain (ASK and ARK, PEM; AMD's `cert_chain`).
    #[arg(long, requires = "vcek", conflicts_with = "url")]
    pub cert_chain: Option<PathBuf>,
    /// Nitro: an expected PCR, as INDEX=HEX (repeatable).
    #[arg(long = "pcr")]
    pub pcrs: Vec<String>,
    /// SEV-SNP: an accepted launch measurement, 96 hex digits (repeatable: any one matches).
    #[arg(long = "measurement")]
    pub measurements: Vec<String>,
    /// SEV-SNP: the minimum TCB, e.g. bootloader=3,tee=0,snp=8,microcode=115 (and fmc=N on
    /// Turin); components left out are 0.
    #[arg(long)]
    pub min_tcb: Option<String>,
    /// SEV-SNP: the VMPL the report must have been requested at (0 to 3).
    #[arg(long)]
    pub vmpl: Option<u32>,
    /// SEV-SNP: the exact REPORT_DATA (128 hex digits), for reports not made by ok2cry.
    #[arg(long)]
    pub report_data: Option<String>,
    /// The nonce you sent (hex): the evidence (or the JSON) must answer it. --url makes a
    /// fresh one itself.
    #[arg(long, conflicts_with = "url")]
    pub nonce: Option<String>,
    /// Nitro: refuse a document older than this at the verification time (e.g. 300s, 5m, 1h).
    /// An SEV-SNP report carries no time; its freshness is the nonce (use --url).
    #[arg(long, value_parser = parse_duration)]
    pub max_age: Option<Duration>,
    /// Verify at this time (Unix milliseconds) instead of now: to check a historic document at
    /// its own time (its certificates may have expired since; a Nitro leaf lives ~3 hours).
    #[arg(long, conflicts_with = "url")]
    pub at_ms: Option<u64>,
    /// Nitro: pin another root than the AWS Nitro root (SHA-256 fingerprint, hex), e.g. the
    /// development provider's.
    #[arg(long)]
    pub root_fingerprint: Option<String>,
    /// Accept a debuggable environment (Nitro debug mode, SEV-SNP guest policy DEBUG), e.g. the
    /// development provider. It proves nothing: never in production.
    #[arg(long)]
    pub allow_debug: bool,
}

/// Runs `ok2cry attest …`.
pub async fn run(command: AttestCommand) -> Result<(), CliError> {
    match command {
        AttestCommand::Verify(args) => {
            let report = verify(&args).await?;
            print!("{report}");
            Ok(())
        }
        AttestCommand::Provenance {
            binary,
            commit,
            source,
            builder,
            pcrs,
        } => provenance(&binary, commit, source, builder, &pcrs),
    }
}

/// Reads a file, at most `limit` bytes (enforced while reading).
fn read_limited(path: &Path, limit: usize) -> Result<Vec<u8>, CliError> {
    let file = std::fs::File::open(path).map_err(fail(&path.display().to_string()))?;
    read_at_most(file, limit).map_err(|e| match e {
        AttestationError::TooLarge { limit } => CliError(format!(
            "{}: larger than {limit} bytes (evidence is at most 16 KiB, the /v1/attestation \
             JSON at most 64 KiB); nothing more was read",
            path.display()
        )),
        other => CliError(format!("{}: {other}", path.display())),
    })
}

fn read_text(path: &Path) -> Result<String, CliError> {
    String::from_utf8(read_limited(path, MAX_FILE_LEN)?)
        .map_err(|_| CliError(format!("{}: not UTF-8 text", path.display())))
}

/// Parses `300`, `300s`, `5m`, `1h`, `1d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?}: a number with s, m, h or d (e.g. 300s, 5m)"))?;
    let seconds = match unit {
        "" | "s" => Some(value),
        "m" => value.checked_mul(60),
        "h" => value.checked_mul(3600),
        "d" => value.checked_mul(86_400),
        _ => None,
    }
    .ok_or_else(|| format!("{text:?}: a number with s, m, h or d (e.g. 300s, 5m)"))?;
    Ok(Duration::from_secs(seconds))
}

fn parse_hex<const N: usize>(text: &str, what: &str) -> Result<[u8; N], CliError> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text.trim(), &mut out)
        .map_err(|_| CliError(format!("{what}: expected {} hex digits", 2 * N)))?;
    Ok(out)
}

fn parse_min_tcb(text: &str) -> Result<TcbMinimum, CliError> {
    let mut minimum = TcbMinimum::default();
    for part in text.split(',').filter(|p| !p.trim().is_empty()) {
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| CliError(format!("--min-tcb {part:?}: expected NAME=NUMBER")))?;
        let value: u8 = value
            .trim()
            .parse()
            .map_err(|_| CliError(format!("--min-tcb {part:?}: a number from 0 to 255")))?;
        match name.trim() {
            "bootloader" => minimum.bootloader = value,
            "tee" => minimum.tee = value,
            "snp" => minimum.snp = value,
            "microcode" => minimum.microcode = value,
            "fmc" => minimum.fmc = value,
            other => {
                return Err(CliError(format!(
                    "--min-tcb: unknown component {other:?} (bootloader, tee, snp, microcode, fmc)"
                )));
            }
        }
    }
    Ok(minimum)
}

/// The verifier the flags describe: Nitro and SEV-SNP policies side by side.
fn verifier(args: &VerifyArgs) -> Result<Verifier, CliError> {
    let mut nitro = Policy::strict();
    if let Some(fp) = &args.root_fingerprint {
        nitro = nitro.with_root(RootFingerprint::from_hex(fp).map_err(fail("--root-fingerprint"))?);
    }
    for pcr in &args.pcrs {
        let (index, value) = pcr
            .split_once('=')
            .ok_or_else(|| CliError(format!("--pcr {pcr}: expected INDEX=HEX")))?;
        let index: u8 = index.parse().map_err(fail("--pcr index"))?;
        nitro = nitro.expect_pcr(index, hex::decode(value).map_err(fail("--pcr value"))?);
    }
    if let Some(max_age) = args.max_age {
        nitro = nitro.with_max_age(max_age);
    }
    let mut sev = SevSnpPolicy::strict();
    for measurement in &args.measurements {
        sev = sev.expect_measurement(parse_hex::<48>(measurement, "--measurement")?);
    }
    if let Some(text) = &args.min_tcb {
        sev = sev.with_min_tcb(parse_min_tcb(text)?);
    }
    if let Some(vmpl) = args.vmpl {
        sev = sev.require_vmpl(vmpl);
    }
    if let Some(text) = &args.report_data {
        sev = sev.require_report_data(parse_hex::<64>(text, "--report-data")?);
    }
    if args.allow_debug {
        nitro = nitro.danger_allow_debug();
        sev = sev.danger_allow_debug();
    }
    Ok(Verifier::new().with_nitro(nitro).with_sev_snp(sev))
}

/// Flags that only make sense for one platform, given for the other, are an error: a user who
/// asked for a PCR check must not be told "verified" without one.
fn check_flags_fit(
    args: &VerifyArgs,
    platform: Platform,
    fresh_nonce: bool,
) -> Result<(), CliError> {
    let wrong = |flag: &str| {
        Err(CliError(format!(
            "{flag} does not apply to {platform} evidence; nothing was accepted"
        )))
    };
    match platform {
        Platform::Nitro => {
            if !args.measurements.is_empty() {
                return wrong("--measurement");
            }
            if args.min_tcb.is_some() {
                return wrong("--min-tcb");
            }
            if args.vmpl.is_some() {
                return wrong("--vmpl");
            }
            if args.report_data.is_some() {
                return wrong("--report-data");
            }
        }
        _ => {
            if !args.pcrs.is_empty() {
                return wrong("--pcr");
            }
            if args.root_fingerprint.is_some() {
                return wrong("--root-fingerprint");
            }
            if args.max_age.is_some() && !fresh_nonce {
                return Err(CliError(
                    "--max-age: an SEV-SNP report carries no time; its freshness is the nonce \
                     (use --url, which sends a fresh one, or check --nonce); nothing was accepted"
                        .into(),
                ));
            }
        }
    }
    Ok(())
}

/// Explains a refusal, with the flag that would change it where there is one.
fn refused(
    error: &AttestationError,
    evidence: Option<&[u8]>,
    at: SystemTime,
    json: Option<&AttestationResponse>,
) -> CliError {
    let mut text = format!("NOT verified: {error}");
    match error {
        AttestationError::CertificateExpired { .. }
        | AttestationError::CertificateNotYetValid { .. } => {
            text.push_str(&format!(" (verified at {}", iso(at)));
            let made = evidence
                .and_then(|bytes| AttestationDocument::parse(bytes).ok())
                .map(|doc| doc.timestamp_ms());
            match made {
                Some(ms) => text.push_str(&format!(
                    "; to verify a historic document at its own time pass --at-ms {ms}, the time \
                     it says it was made, {})",
                    iso(SystemTime::UNIX_EPOCH + Duration::from_millis(ms))
                )),
                None => text.push_str(
                    "; to verify historic evidence pass --at-ms with the time it was made, in \
                     Unix milliseconds)",
                ),
            }
        }
        AttestationError::UntrustedRoot
            if json.is_some_and(|j| j.dev_root_certificate.is_some()) =>
        {
            text.push_str(
                " (this is the development provider: to check the flow anyway pin its root with \
                 --root-fingerprint ",
            );
            if let Some(Ok(Some(root))) = json.map(AttestationResponse::dev_root_bytes) {
                text.push_str(&hex::encode(
                    RootFingerprint::of_certificate(&root).as_bytes(),
                ));
            }
            text.push_str(" and pass --allow-debug; it proves nothing about the build)");
        }
        AttestationError::UntrustedRoot if json.is_none() => {
            text.push_str(
                " (a development node's root is not trusted by default: pin it with \
                 --root-fingerprint, the SHA-256 of the JSON's dev_root_certificate, and pass \
                 --allow-debug; it proves nothing about the build)",
            );
        }
        AttestationError::DebugEnclave | AttestationError::DebugGuest => {
            text.push_str(" (--allow-debug accepts it; such evidence proves nothing)");
        }
        _ => {}
    }
    CliError(text)
}

fn attested_refusal(
    error: AttestedError,
    evidence: Option<&[u8]>,
    at: SystemTime,
    json: Option<&AttestationResponse>,
) -> CliError {
    match error {
        AttestedError::Evidence(e) => refused(&e, evidence, at, json),
        other => CliError(format!("NOT verified: {other}")),
    }
}

fn iso(at: SystemTime) -> String {
    let since = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let millis = i128::try_from(since.as_millis()).unwrap_or_default();
    time::OffsetDateTime::from_unix_timestamp_nanos(millis * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{} ms", since.as_millis()))
}

/// Runs `attest verify` and returns what to print.
pub async fn verify(args: &VerifyArgs) -> Result<String, CliError> {
    let verifier = verifier(args)?;
    if let Some(url) = &args.url {
        let read = |p: &Path| read_limited(p, MAX_FILE_LEN);
        let client = ok2cry_client::http::Ok2cryClient::builder(url.clone(), &read(&args.ca)?)
            .client_identity(&read(&args.cert)?, &read(&args.key)?)
            .build()
            .map_err(fail("client"))?;
        let service = client.attest(&verifier).await.map_err(|e| match e {
            ok2cry_client::http::HttpError::Attestation(e) => {
                attested_refusal(e, None, SystemTime::now(), None)
            }
            other => CliError(format!("NOT verified: {other}")),
        })?;
        // The evidence was checked at the moment it arrived; report that moment.
        let at = SystemTime::now();
        check_flags_fit(args, service.jwks.verified().platform(), true)?;
        let source = format!("fetched from {url}");
        return Ok(describe_service(args, &service, at, &source, true));
    }
    let path = args
        .document
        .as_deref()
        .ok_or_else(|| CliError("give --document FILE or --url URL".into()))?;
    let at = match args.at_ms {
        Some(ms) => SystemTime::UNIX_EPOCH + Duration::from_millis(ms),
        None => SystemTime::now(),
    };
    let bytes = read_limited(path, MAX_FILE_LEN)?;
    let nonce = args
        .nonce
        .as_deref()
        .map(|n| hex::decode(n.trim()).map_err(|_| CliError("--nonce: expected hex".into())))
        .transpose()?;
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        return verify_json(args, &verifier, &bytes, at, nonce.as_deref());
    }
    // Raw evidence: no binding members to check.
    let evidence = match (&args.vcek, &args.cert_chain) {
        (Some(vcek), Some(chain)) => SevSnpEvidence::from_files(
            &bytes,
            &read_limited(vcek, MAX_FILE_LEN)?,
            &read_limited(chain, MAX_FILE_LEN)?,
        )
        .and_then(|e| e.to_vec())
        .map_err(|e| CliError(format!("NOT verified: {e}")))?,
        _ => bytes,
    };
    let platform =
        Platform::detect(&evidence).map_err(|e| CliError(format!("NOT verified: {e}")))?;
    check_flags_fit(args, platform, false)?;
    let verifier = match (&nonce, platform) {
        (Some(nonce), Platform::Nitro) => {
            let nitro = verifier
                .nitro()
                .cloned()
                .unwrap_or_default()
                .require_nonce(nonce.clone());
            verifier.with_nitro(nitro)
        }
        (Some(_), _) => {
            return Err(CliError(
                "--nonce with bare SEV-SNP evidence: its REPORT_DATA commits to the nonce and the \
                 binding together; verify the /v1/attestation JSON, or give --report-data"
                    .into(),
            ));
        }
        (None, _) => verifier,
    };
    let verified = verifier
        .verify(&evidence, at)
        .map_err(|e| refused(&e, Some(&evidence), at, None))?;
    let mut out = describe(args, &verified, at, nonce.is_some());
    out.push_str(
        "NOT checked: what the evidence binds (raw evidence; the /v1/attestation JSON or --url \
         carries the JWKS thumbprints and audit key digest)\n",
    );
    out.push_str(&details(&verified));
    Ok(out)
}

fn verify_json(
    args: &VerifyArgs,
    verifier: &Verifier,
    bytes: &[u8],
    at: SystemTime,
    nonce: Option<&[u8]>,
) -> Result<String, CliError> {
    let response = AttestationResponse::from_json(bytes)
        .map_err(|e| CliError(format!("NOT verified: {e}")))?;
    let evidence = response
        .document_bytes()
        .map_err(|e| CliError(format!("NOT verified: {e}")))?;
    let platform =
        Platform::detect(&evidence).map_err(|e| CliError(format!("NOT verified: {e}")))?;
    check_flags_fit(args, platform, false)?;
    let jwks = args
        .jwks
        .as_deref()
        .map(|p| {
            read_text(p).and_then(|t| {
                ok2cry_client::Jwks::from_json(&t).map_err(fail(&p.display().to_string()))
            })
        })
        .transpose()?;
    let audit_pem = args.audit_key.as_deref().map(read_text).transpose()?;
    let source = format!(
        "from {}",
        args.document
            .as_deref()
            .map(Path::display)
            .map(|d| d.to_string())
            .unwrap_or_default()
    );
    match jwks {
        Some(jwks) => {
            let service = verify_service_attestation(
                &response,
                verifier,
                at,
                nonce,
                &jwks,
                audit_pem.as_deref(),
            )
            .map_err(|e| attested_refusal(e, Some(&evidence), at, Some(&response)))?;
            Ok(describe_service(
                args,
                &service,
                at,
                &source,
                nonce.is_some(),
            ))
        }
        None => {
            if audit_pem.is_some() {
                return Err(CliError(
                    "--audit-key needs --jwks too (the binding covers both)".into(),
                ));
            }
            let answered = response
                .nonce_bytes()
                .map_err(|e| CliError(format!("NOT verified: {e}")))?;
            if nonce.is_some_and(|n| n != answered.as_slice()) {
                return Err(CliError(format!(
                    "NOT verified: {}",
                    AttestedError::NonceMismatch
                )));
            }
            let verified = verifier
                .verify(&evidence, at)
                .map_err(|e| refused(&e, Some(&evidence), at, Some(&response)))?;
            let binding = response
                .claimed_binding()
                .map_err(|e| CliError(format!("NOT verified: {e}")))?;
            binding
                .check(&verified, &answered)
                .map_err(|e| refused(&e, Some(&evidence), at, Some(&response)))?;
            let mut out = format!("provider: {}\n", response.provider);
            out.push_str(&describe(args, &verified, at, nonce.is_some()));
            out.push_str(&binding_line(&binding, &answered, nonce.is_some()));
            out.push_str(&format!(
                "NOT checked: that the JWKS you use is the committed set (pass --jwks FILE with it, \
                 or use --url)\n{}",
                audit_line(&AuditKeyCheck::NotChecked {
                    committed_spki_sha256: binding.audit_key_spki_sha256().unwrap_or_default().to_vec(),
                    reason: "pass --jwks and --audit-key, or use --url with an auditor certificate".into(),
                }, binding.audit_key_spki_sha256().is_none())
            ));
            out.push_str(&details(&verified));
            Ok(out)
        }
    }
}

fn describe_service(
    args: &VerifyArgs,
    service: &AttestedService,
    at: SystemTime,
    source: &str,
    nonce_checked: bool,
) -> String {
    let verified = service.jwks.verified();
    let binding = service.jwks.binding();
    let mut out = format!("provider: {}\n", service.response.provider);
    out.push_str(&describe(args, verified, at, nonce_checked));
    out.push_str(&binding_line(binding, &service.nonce, nonce_checked));
    out.push_str(&format!(
        "verified: JWKS: exactly the {} committed key(s) ({source})\n",
        binding.jwks_thumbprints().len()
    ));
    out.push_str(&audit_line(&service.audit_key, false));
    for thumbprint in binding.jwks_thumbprints() {
        out.push_str(&format!("jwks_thumbprint: {thumbprint}\n"));
    }
    out.push_str(&details(verified));
    out
}

fn binding_line(binding: &Binding, nonce: &[u8], nonce_checked: bool) -> String {
    let audit = match binding.audit_key_spki_sha256() {
        Some(digest) => format!("audit key SPKI sha256 {}", hex::encode(digest)),
        None => "no audit key (the node has none)".to_owned(),
    };
    format!(
        "verified: binding (ok2cry-bind-v1): the evidence commits to {} JWKS key(s), {audit}, and \
         nonce {}{}\n",
        binding.jwks_thumbprints().len(),
        hex::encode(nonce),
        if nonce_checked {
            " (the nonce sent)"
        } else {
            " (NOT checked to be yours: pass --nonce, or use --url, for freshness)"
        }
    )
}

fn audit_line(check: &AuditKeyCheck, none_committed: bool) -> String {
    match check {
        AuditKeyCheck::Attested { .. } => {
            "verified: audit key: the one fetched has the committed SPKI digest\n".to_owned()
        }
        AuditKeyCheck::NoAuditKey => {
            "verified: audit key: none, and the evidence commits to none\n".to_owned()
        }
        AuditKeyCheck::NotChecked { .. } if none_committed => {
            "verified: audit key: the evidence commits to none\n".to_owned()
        }
        AuditKeyCheck::NotChecked { reason, .. } => {
            format!("NOT checked: the audit key itself ({reason})\n")
        }
        _ => "NOT checked: the audit key\n".to_owned(),
    }
}

/// The "verified:" lines for the evidence and the policy.
fn describe(args: &VerifyArgs, verified: &Verified, at: SystemTime, nonce_checked: bool) -> String {
    let debug = if verified.is_debug() {
        "debug ALLOWED by --allow-debug and this environment IS debuggable: it proves nothing"
    } else if args.allow_debug {
        "debug allowed by --allow-debug (this environment is not debuggable)"
    } else {
        "debuggable environments refused"
    };
    match verified {
        Verified::Nitro(doc) => {
            let root = match &args.root_fingerprint {
                Some(fp) => format!("the root pinned by --root-fingerprint {fp}"),
                None => format!(
                    "the AWS Nitro Enclaves root G1 ({})",
                    hex::encode(RootFingerprint::AWS_NITRO_ROOT_G1.as_bytes())
                ),
            };
            let pcrs = if args.pcrs.is_empty() {
                "no PCR expected (NOT checked which image runs: pass --pcr 0=HEX …)".to_owned()
            } else {
                format!("{} expected PCR(s) match", args.pcrs.len())
            };
            let age = match args.max_age {
                Some(max) => format!(
                    "made {} before the verification time (at most {} s allowed)",
                    age_text(doc, at),
                    max.as_secs()
                ),
                None => format!(
                    "made {} before the verification time (no maximum: pass --max-age)",
                    age_text(doc, at)
                ),
            };
            format!(
                "platform: {} attestation document\n\
                 verified: COSE_Sign1 ES384 signature by the enclave's certificate, whose chain \
                 ends at {root} (checked by the positional walk and by rustls-webpki), every \
                 certificate valid at {}\n\
                 verified: policy: {debug}; {pcrs}; {}; {age}\n",
                Platform::Nitro,
                iso(at),
                if nonce_checked {
                    "nonce matches"
                } else {
                    "nonce not required"
                }
            )
        }
        Verified::SevSnp(report) => {
            let product = report.product();
            let measurement = if args.measurements.is_empty() {
                "no measurement expected (NOT checked which image runs: pass --measurement HEX)"
                    .to_owned()
            } else {
                "the launch measurement is an expected one".to_owned()
            };
            let tcb = match &args.min_tcb {
                Some(min) => format!("REPORTED_TCB at least {min}"),
                None => "no minimum TCB (pass --min-tcb)".to_owned(),
            };
            let vmpl = match args.vmpl {
                Some(v) => format!("VMPL {v}"),
                None => "any VMPL".to_owned(),
            };
            format!(
                "platform: {} report version {} from an AMD {product} chip (VCEK {})\n\
                 verified: report signature by the chip's VCEK; VCEK → ASK → ARK ending at AMD's \
                 pinned {product} ARK ({}) (checked by the positional walk and by rustls-webpki), \
                 every certificate valid at {}; the VCEK's chip id and TCB are the report's\n\
                 verified: policy: {debug}; {measurement}; {tcb}; {vmpl}{}\n",
                Platform::SevSnp,
                report.version(),
                report.vcek_product_name(),
                hex::encode(product.ark_fingerprint().as_bytes()),
                iso(at),
                if args.report_data.is_some() {
                    "; REPORT_DATA as given"
                } else {
                    ""
                }
            )
        }
        _ => String::new(),
    }
}

fn age_text(doc: &VerifiedAttestation, at: SystemTime) -> String {
    match at.duration_since(doc.timestamp()) {
        Ok(age) => format!("{:.1} s", age.as_secs_f64()),
        Err(ahead) => format!("-{:.1} s", ahead.duration().as_secs_f64()),
    }
}

/// The evidence's contents, one field a line.
fn details(verified: &Verified) -> String {
    let mut out = String::new();
    let mut line = |name: &str, value: String| out.push_str(&format!("{name}: {value}\n"));
    let opt = |bytes: Option<&[u8]>| bytes.map_or_else(|| "(none)".to_owned(), hex::encode);
    match verified {
        Verified::Nitro(doc) => {
            line("module_id", doc.module_id().to_owned());
            line(
                "timestamp",
                format!("{} ({})", doc.timestamp_ms(), iso(doc.timestamp())),
            );
            line("debug mode", doc.is_debug().to_string());
            for (index, value) in doc.pcrs() {
                line(&format!("PCR{index}"), hex::encode(value));
            }
            line("public_key", opt(doc.public_key()));
            line("user_data", opt(doc.user_data()));
            line("nonce", opt(doc.nonce()));
        }
        Verified::SevSnp(report) => sev_details(report, &mut line),
        _ => {}
    }
    out
}

fn sev_details(report: &VerifiedSevSnp, line: &mut impl FnMut(&str, String)) {
    let raw = report.report();
    let policy = report.policy();
    line("measurement", hex::encode(report.measurement()));
    line("report_data", hex::encode(report.report_data()));
    line("host_data", hex::encode(report.host_data()));
    line("vmpl", report.vmpl().to_string());
    line(
        "guest_policy",
        format!(
            "{:#x} (debug {}, migration agent {}, SMT {}, single socket {}, ABI >= {}.{})",
            policy.0,
            policy.debug_allowed(),
            policy.migrate_ma_allowed(),
            policy.smt_allowed(),
            policy.single_socket(),
            policy.abi_major(),
            policy.abi_minor()
        ),
    );
    line("guest_svn", raw.guest_svn().to_string());
    line("reported_tcb", report.reported_tcb().to_string());
    line("current_tcb", report.current_tcb().to_string());
    line("committed_tcb", report.committed_tcb().to_string());
    line("launch_tcb", report.launch_tcb().to_string());
    line("chip_id", hex::encode(report.chip_id()));
    line("family_id", hex::encode(raw.family_id()));
    line("image_id", hex::encode(raw.image_id()));
    line("id_key_digest", hex::encode(raw.id_key_digest()));
    line("author_key_digest", hex::encode(raw.author_key_digest()));
    line("report_id", hex::encode(raw.report_id()));
    line("platform_info", format!("{:#x}", raw.platform_info().0));
    if let Some((family, model, stepping)) = raw.cpuid() {
        line(
            "cpuid",
            format!("family {family:#x} model {model:#x} stepping {stepping}"),
        );
    }
}

fn provenance(
    binary: &Path,
    commit: String,
    source: String,
    builder: String,
    pcrs: &[String],
) -> Result<(), CliError> {
    use sha2::Digest;
    let bytes = std::fs::read(binary).map_err(fail(&binary.display().to_string()))?;
    let mut values = [[0u8; 48]; 3];
    for (slot, text) in values.iter_mut().zip(pcrs) {
        let v = hex::decode(text).map_err(fail("PCR"))?;
        *slot = v
            .try_into()
            .map_err(|_| CliError("each PCR must be 48 bytes (96 hex digits)".into()))?;
    }
    let statement = ok2cry_attestation::release_statement(&ok2cry_attestation::ReleaseProvenance {
        binary_name: binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        binary_sha256: sha2::Sha256::digest(&bytes).into(),
        source_uri: source,
        source_commit: commit,
        builder_id: builder,
        pcrs: values,
    })
    .map_err(fail("provenance"))?;
    println!("{statement}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("300s").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172_800));
        for bad in ["", "m", "5 m", "5w", "-5s", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn min_tcb() {
        let min = parse_min_tcb("bootloader=3,tee=0,snp=8,microcode=115").unwrap();
        assert_eq!(
            (min.bootloader, min.snp, min.microcode, min.fmc),
            (3, 8, 115, 0)
        );
        assert!(parse_min_tcb("snp=256").is_err());
        assert!(parse_min_tcb("nope=1").is_err());
        assert!(parse_min_tcb("snp").is_err());
    }
}
