//! Start-up time of the release binary, as an operator sees it.
//!
//! Over N runs (default 20), spawns `target/release/ok2cry serve --config <dev config>` on a free
//! 127.0.0.1 port and measures, from the spawn:
//! - when its `ok2cry listening` log line reaches the bench (the line is logged once the port is
//!   bound, before the node starts: hardening, audit log, first KEK, TLS, attestation);
//! - when the first mTLS request to `/healthz` succeeds (polled every millisecond with the dev
//!   `card-api` client certificate: a connection made before the node serves waits in the
//!   listen backlog and succeeds as soon as it does).
//!
//! Then sends SIGTERM and measures how long the node takes to drain and exit.
//!
//! The dev PKI and configuration are written once by the library (`ok2cry::node::dev::prepare`, as
//! `ok2cry serve --dev` does) in a temporary directory; every run gets a fresh audit directory
//! (`--audit-dir`), so each is a first start, not a restart over an existing log.
//!
//! ```sh
//! # the binary `cargo build --release` makes, copied so that `cargo bench` cannot relink it:
//! cargo build --release --bin ok2cry && cp target/release/ok2cry /tmp/ok2cry-release
//! OK2CRY_BIN=/tmp/ok2cry-release cargo bench --bench startup       # 20 runs
//! # or target/release/ok2cry as it is (after `cargo bench`, that build; see below):
//! cargo bench --bench startup -- --runs 50
//! ```
//!
//! `OK2CRY_BIN` names the binary; without it, `target/release/ok2cry`. Why the copy: `cargo bench`
//! relinks `target/release/ok2cry` itself, with the dev-dependencies' features unified in, so
//! after it that path holds a slightly different build than `cargo build --release` made (on
//! 2026-11-29 both started in the same time, within noise).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// How long one start may take before the bench gives up.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// What one run measured (durations from the spawn, except `stop`).
struct Run {
    listening: Option<Duration>,
    ready: Duration,
    /// SIGTERM → process exit.
    stop: Duration,
}

fn main() {
    let mut runs = 20usize;
    let mut args = std::env::args();
    while let Some(a) = args.next() {
        if a == "--runs" {
            runs = args.next().unwrap().parse().unwrap();
        }
    }
    let bin = binary();
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    // The dev configuration as `ok2cry serve --dev` writes it; every run overrides the port.
    let config = ok2cry::node::dev::prepare(&pki, Some("127.0.0.1:0".parse().unwrap())).unwrap();
    println!(
        "binary {} ({}); dev config {}",
        bin.display(),
        age(&bin),
        config.display()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut results = Vec::with_capacity(runs);
    for i in 0..runs {
        let run = rt.block_on(start_once(
            &bin,
            &config,
            &pki,
            &dir.path().join(format!("audit-{i}")),
            i == 0,
        ));
        results.push(run);
    }
    println!("\nstart-up over {runs} runs (from spawning the process):");
    let listening: Vec<Duration> = results.iter().filter_map(|r| r.listening).collect();
    report("`ok2cry listening` log line", listening);
    report(
        "first mTLS GET /healthz 200",
        results.iter().map(|r| r.ready).collect(),
    );
    report(
        "SIGTERM -> exit (once up)",
        results.iter().map(|r| r.stop).collect(),
    );
}

/// One start: spawn, poll `/healthz` until it answers, stop with SIGTERM.
async fn start_once(bin: &Path, config: &Path, pki: &Path, audit: &Path, show_log: bool) -> Run {
    let port = free_port();
    let url = format!("https://127.0.0.1:{port}/healthz");
    // The client is built before the clock starts: its set-up is not the server's start-up.
    let client = mtls_client(pki, "card-api");
    let spawned = Instant::now();
    let mut child = Command::new(bin)
        .arg("serve")
        .arg("--config")
        .arg(config)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--audit-dir")
        .arg(audit)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    // The log goes to stdout; each line is stamped when it reaches the bench.
    let stdout = timestamped_lines(child.stdout.take().unwrap(), spawned);
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let ready = loop {
        if let Ok(r) = client.get(&url).send().await
            && r.status().is_success()
        {
            break spawned.elapsed();
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "ok2cry exited before serving ({status}):\n{}",
                stderr.join().unwrap()
            );
        }
        if spawned.elapsed() > START_TIMEOUT {
            let _ = child.kill();
            panic!("ok2cry did not answer /healthz within {START_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    // Close the client's keep-alive connection first (the node's graceful shutdown would
    // otherwise wait for it), and keep this runtime turning while waiting, so the connection
    // task can finish.
    drop(client);
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let stopping = Instant::now();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let stop = stopping.elapsed();
    assert!(status.success(), "ok2cry exited with {status}");
    let lines = stdout.join().unwrap();
    let _ = stderr.join();
    if show_log {
        println!("first run's log (ms after spawn):");
        for (at, line) in &lines {
            println!("  {:>8.1}  {line}", ms(*at));
        }
    }
    let listening = lines
        .iter()
        .find(|(_, l)| l.contains("ok2cry listening"))
        .map(|(at, _)| *at);
    Run {
        listening,
        ready,
        stop,
    }
}

/// Reads lines on a thread of its own, each with the time since `start` it arrived at.
fn timestamped_lines(
    out: impl Read + Send + 'static,
    start: Instant,
) -> JoinHandle<Vec<(Duration, String)>> {
    std::thread::spawn(move || {
        BufReader::new(out)
            .lines()
            .map_while(Result::ok)
            .map(|l| (start.elapsed(), l))
            .collect()
    })
}

/// An HTTPS client trusting the dev CA and presenting the dev certificate `who`.
fn mtls_client(pki: &Path, who: &str) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(pki.join("ca.pem")).unwrap()).unwrap();
    let mut pem = std::fs::read(pki.join(format!("{who}.pem"))).unwrap();
    pem.extend(std::fs::read(pki.join(format!("{who}.key"))).unwrap());
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .identity(reqwest::Identity::from_pem(&pem).unwrap())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// The binary under test: `OK2CRY_BIN`, else `target/release/ok2cry` (honouring
/// `CARGO_TARGET_DIR`).
fn binary() -> PathBuf {
    let bin = match std::env::var_os("OK2CRY_BIN") {
        Some(b) => PathBuf::from(b),
        None => std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
            .join("release/ok2cry"),
    };
    if !bin.is_file() {
        panic!(
            "{} not found: build it first with `cargo build --release --bin ok2cry`",
            bin.display()
        );
    }
    bin
}

/// How old the binary is (a reminder to rebuild after changing the sources).
fn age(bin: &Path) -> String {
    let modified = std::fs::metadata(bin).and_then(|m| m.modified());
    match modified.map(|m| SystemTime::now().duration_since(m)) {
        Ok(Ok(d)) => format!("built {} s ago", d.as_secs()),
        _ => "build time unknown".into(),
    }
}

/// A free port: the kernel picks one for a listener closed at once.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Prints p50, p99 and max (nearest rank; with 20 runs p99 is the slowest run).
fn report(what: &str, mut samples: Vec<Duration>) {
    if samples.is_empty() {
        println!("  {what:<30} not seen");
        return;
    }
    samples.sort_unstable();
    let q =
        |q: f64| samples[((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1];
    println!(
        "  {what:<30} p50 {:>7.1} ms   p99 {:>7.1} ms   max {:>7.1} ms   (min {:.1} ms, {} runs)",
        ms(q(0.50)),
        ms(q(0.99)),
        ms(samples[samples.len() - 1]),
        ms(samples[0]),
        samples.len()
    );
}
