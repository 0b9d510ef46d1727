//! The client libraries, `sdk/typescript` (`@ok2cry/client`) and `sdk/python` (`ok2cry`), under
//! README's test command:
//!
//! - each SDK's own suite: `npm test` (unit and conformance in Node, the same in headless
//!   Chromium, `npm pack` installed into an empty directory) and `pytest` (unit, conformance,
//!   `mypy --strict`, the wheel and the source directory installed into fresh venvs);
//! - one conformance suite for every implementation: every case of
//!   `tests/vectors/protocol-v1.json` has the same outcome in the Rust crate, in Node, in
//!   Chromium and in Python — a vector one accepts and another refuses fails here;
//! - live: each SDK creates a key on a real dev node over mutual TLS, verifies its token, seals,
//!   has the node open it, and opens what the Rust CLI sealed to its own local key;
//! - README's quick starts (Rust, TypeScript, Python) run as written against a dev node.
//!
//! What they need (`scripts/test-deps` installs it from the lock files): Node 20+ with the SDK's
//! packages and its built `dist/`, Debian's Chromium, and `sdk/python/.venv`. These tests fail —
//! never skip — when any of it is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::TestServer;
use ok2cry_client::{Envelope, Error, Jwks, KeyId, KeyToken, PrivateKey, PublicJwk, PublicKey};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// `npm test` rebuilds `sdk/typescript/dist`, which the other TypeScript tests run: one at a
/// time within this binary.
static TYPESCRIPT: Mutex<()> = Mutex::new(());

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn typescript() -> PathBuf {
    let dir = root().join("sdk/typescript");
    common::require_node_packages(
        &dir,
        &[
            "@hpke/core",
            "jose",
            "@humanwhocodes/momoa",
            "typescript",
            "playwright-core",
        ],
    );
    assert!(
        dir.join("dist/index.js").exists(),
        "sdk/typescript is not built: run scripts/test-deps (npm run build there)"
    );
    dir
}

fn python() -> (PathBuf, PathBuf) {
    let dir = root().join("sdk/python");
    let python = dir.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test-deps (it makes the venv from sdk/python/requirements-test.txt)",
        python.display()
    );
    (dir, python)
}

fn chromium() {
    assert!(
        Path::new("/usr/bin/chromium").exists() || std::env::var_os("OK2CRY_CHROMIUM").is_some(),
        "these tests need Debian's Chromium: run scripts/test-deps"
    );
}

/// Runs a command to completion, failing with its output unless it succeeds.
fn run(cmd: &mut Command, what: &str) -> String {
    let out: Output = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The number before or after `pattern` on the runner's summary line (`# pass 194`, `193 passed`).
fn count(output: &str, pattern: &str) -> usize {
    output
        .lines()
        .rev()
        .find_map(|line| {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix(pattern) {
                return rest.split_whitespace().next()?.parse().ok();
            }
            let (n, rest) = line.split_once(' ')?;
            rest.starts_with(pattern).then(|| n.parse().ok()).flatten()
        })
        .unwrap_or_else(|| panic!("no {pattern:?} count in:\n{output}"))
}

fn vectors() -> Value {
    let text = std::fs::read_to_string(root().join("tests/vectors/protocol-v1.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn typescript_npm_test_passes_in_node_and_chromium() {
    let dir = typescript();
    chromium();
    let _one = TYPESCRIPT.lock().unwrap_or_else(|e| e.into_inner());
    let out = run(
        Command::new("npm")
            .args(["test", "--silent"])
            .current_dir(&dir),
        "npm test in sdk/typescript",
    );
    let f = vectors();
    let cases = 1 + ["seal", "must_pass", "must_fail"]
        .iter()
        .map(|k| f[k].as_array().unwrap().len())
        .sum::<usize>();
    assert_eq!(count(&out, "# fail"), 0, "{out}");
    assert_eq!(count(&out, "# skipped"), 0, "{out}");
    // Every vector in Node, and the unit cases in Node and in Chromium, and more.
    assert!(count(&out, "# pass") > cases + 20, "{out}");
}

#[test]
fn python_pytest_passes() {
    let (dir, python) = python();
    let out = run(
        Command::new(&python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .current_dir(&dir),
        "pytest in sdk/python",
    );
    let f = vectors();
    let cases = 1 + ["seal", "must_pass", "must_fail"]
        .iter()
        .map(|k| f[k].as_array().unwrap().len())
        .sum::<usize>();
    assert!(count(&out, "passed") > cases + 10, "{out}");
    assert!(!out.contains("skipped") && !out.contains("failed"), "{out}");
}

fn hex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap()
}

fn name_of(e: &Error) -> String {
    e.name().to_owned()
}

/// A seal vector: `info` byte for byte, the thumbprint, both forms convert into each other and
/// open, and what this implementation seals to the recipient opens to the same plaintext.
fn seal_vector_holds(v: &Value) -> Result<bool, Error> {
    let s = |k: &str| v[k].as_str().unwrap().to_owned();
    let key_id = KeyId::new(s("key_id"))?;
    let context = s("context");
    if hex::encode(ok2cry_client::suite::info(&key_id, &context)) != s("info") {
        return Ok(false);
    }
    let key = PrivateKey::from_secret_bytes(&hex(&s("skRm")))?;
    if key.public_key().thumbprint() != s("recipient_jwk_thumbprint") {
        return Ok(false);
    }
    let json = Envelope::from_json(&s("envelope_json"))?;
    let compact = Envelope::from_compact(&s("envelope_compact"))?;
    if json.to_compact() != s("envelope_compact") || compact.to_json() != s("envelope_json") {
        return Ok(false);
    }
    for e in [&json, &compact] {
        if hex::encode(key.open(&key_id, &context, e)?.expose_secret()) != s("plaintext") {
            return Ok(false);
        }
    }
    let jwk = PublicJwk::from_json(&v["recipient_jwk"].to_string())?;
    let ours = Envelope::seal_to(
        &PublicKey::from_jwk(&jwk)?,
        &key_id,
        &context,
        &hex(&s("plaintext")),
    )?;
    let again = Envelope::parse(&ours.to_compact())?;
    Ok(hex::encode(key.open(&key_id, &context, &again)?.expose_secret()) == s("plaintext"))
}

/// The Rust crate's outcome for every case, named and decided exactly as the SDKs'
/// conformance runners do (sdk/typescript/test/conformance.js, sdk/python/tests/conformance.py).
fn rust_outcomes(f: &Value) -> BTreeMap<String, String> {
    let s = |v: &Value, k: &str| v[k].as_str().unwrap().to_owned();
    let outcome = |r: Result<bool, Error>| match r {
        Ok(true) => "ok".to_owned(),
        Ok(false) => "wrong result".to_owned(),
        Err(e) => name_of(&e),
    };
    let open_case = |c: &Value| -> Result<Vec<u8>, Error> {
        let key = PrivateKey::from_secret_bytes(&hex(&s(c, "opener_skR")))?;
        let key_id = KeyId::new(s(c, "opener_key_id"))?;
        let context = s(c, "opener_context");
        let envelope = match s(c, "form").as_str() {
            "sealed_hex" => {
                return key
                    .open_sealed(&key_id, &context, &hex(&s(c, "input")))
                    .map(|p| p.expose_secret().to_vec());
            }
            "json" => Envelope::from_json(&s(c, "input"))?,
            _ => Envelope::from_compact(&s(c, "input"))?,
        };
        key.open(&key_id, &context, &envelope)
            .map(|p| p.expose_secret().to_vec())
    };
    let t = &f["key_token"];
    let token_case = |c: &Value| -> Result<ok2cry_client::VerifiedKey, Error> {
        let jwks = match c.get("jwks_json") {
            Some(text) => Jwks::from_json(text.as_str().unwrap())?,
            None => Jwks::from_json(&t["jwks"].to_string())?,
        };
        KeyToken::parse(&s(c, "token"))?.verify(&jwks, c["now"].as_u64().unwrap())
    };
    let mut out = BTreeMap::new();
    for v in f["seal"].as_array().unwrap() {
        let r = seal_vector_holds(v);
        out.insert(format!("seal/{}", s(v, "name")), outcome(r));
    }
    let r = token_case(&serde_json::json!({"token": t["token"], "now": t["now"]})).map(|k| {
        k.key_id().as_str() == t["verified_key_id"]
            && k.context() == t["verified_context"]
            && k.signing_kid() == t["header"]["kid"]
            && k.expires_at() == t["claims"]["exp"]
    });
    out.insert("key_token".into(), outcome(r));
    for c in f["must_pass"].as_array().unwrap() {
        let r = if c["kind"] == "open" {
            open_case(c).map(|p| hex::encode(p) == s(c, "plaintext"))
        } else {
            token_case(c).map(|k| k.key_id().as_str() == c["key_id"] && k.context() == c["context"])
        };
        out.insert(format!("must_pass/{}", s(c, "name")), outcome(r));
    }
    for c in f["must_fail"].as_array().unwrap() {
        let r = if c["kind"] == "open" {
            open_case(c).map(|_| true)
        } else {
            token_case(c).map(|_| true)
        };
        out.insert(format!("must_fail/{}", s(c, "name")), outcome(r));
    }
    out
}

fn outcomes_of(stdout: &str, runtime: &str) -> BTreeMap<String, String> {
    let v: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{runtime} printed no JSON ({e}): {stdout}"));
    assert_eq!(v["runtime"], runtime);
    serde_json::from_value(v["outcomes"].clone()).unwrap()
}

/// One conformance suite for every implementation: the Rust crate, the TypeScript package in
/// Node and in Chromium, and the Python package give every case of the vector file the same
/// outcome, and it is the outcome the file names.
#[test]
fn every_implementation_gives_every_vector_the_same_outcome() {
    let ts = typescript();
    chromium();
    let (py_dir, python) = python();
    let f = vectors();
    let mut expected = BTreeMap::new();
    for v in f["seal"].as_array().unwrap() {
        expected.insert(
            format!("seal/{}", v["name"].as_str().unwrap()),
            "ok".to_owned(),
        );
    }
    expected.insert("key_token".to_owned(), "ok".to_owned());
    for c in f["must_pass"].as_array().unwrap() {
        expected.insert(
            format!("must_pass/{}", c["name"].as_str().unwrap()),
            "ok".to_owned(),
        );
    }
    for c in f["must_fail"].as_array().unwrap() {
        expected.insert(
            format!("must_fail/{}", c["name"].as_str().unwrap()),
            c["error"].as_str().unwrap().to_owned(),
        );
    }
    assert!(expected.len() >= 1 + 4 + 20 + 144, "case names are unique");

    let mut runs = vec![("rust", rust_outcomes(&f))];
    {
        let _one = TYPESCRIPT.lock().unwrap_or_else(|e| e.into_inner());
        let node = run(
            Command::new("node")
                .arg("test/outcomes.js")
                .current_dir(&ts),
            "node test/outcomes.js",
        );
        runs.push(("node", outcomes_of(&node, "node")));
        let browser = run(
            Command::new("node")
                .args(["test/outcomes.js", "--browser"])
                .current_dir(&ts),
            "node test/outcomes.js --browser",
        );
        runs.push(("chromium", outcomes_of(&browser, "chromium")));
    }
    let py = run(
        Command::new(&python)
            .arg("tests/outcomes.py")
            .current_dir(&py_dir),
        "python tests/outcomes.py",
    );
    runs.push(("python", outcomes_of(&py, "python")));

    let mut differences = Vec::new();
    for (runtime, outcomes) in &runs {
        assert_eq!(
            outcomes.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{runtime} ran other cases than the file holds"
        );
        for (name, want) in &expected {
            let got = &outcomes[name];
            if got != want {
                differences.push(format!("{runtime}: {name}: {got}, the file says {want}"));
            }
        }
    }
    for name in expected.keys() {
        let all: Vec<_> = runs
            .iter()
            .map(|(r, o)| format!("{r} {}", o[name]))
            .collect();
        if runs.iter().any(|(_, o)| o[name] != runs[0].1[name]) {
            differences.push(format!(
                "implementations disagree on {name}: {}",
                all.join(", ")
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// Runs an SDK's live script against `server` as the dev principal card-api (one TypeScript
/// test at a time when `typescript`).
async fn live(
    server: &TestServer,
    program: PathBuf,
    args: Vec<String>,
    dir: PathBuf,
    typescript: bool,
) -> Value {
    let pki = server.pki();
    let url = server.url("");
    let out = tokio::task::spawn_blocking(move || {
        let _one = typescript.then(|| TYPESCRIPT.lock().unwrap_or_else(|e| e.into_inner()));
        run(
            Command::new(program)
                .args(&args)
                .current_dir(&dir)
                .env("OK2CRY_URL", url)
                .env("OK2CRY_CA", pki.join("ca.pem"))
                .env("OK2CRY_CERT", pki.join("card-api.pem"))
                .env("OK2CRY_KEY", pki.join("card-api.key"))
                .env("OK2CRY_BIN", env!("CARGO_BIN_EXE_ok2cry")),
            "the live script",
        )
    })
    .await
    .unwrap();
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("no JSON ({e}): {out}"))
}

/// What the live script reports doing is what the node's audit log recorded.
async fn assert_audited(server: &TestServer, done: &Value) {
    let events = server.audit_events().await;
    let has = |kind: &str, key: &Value| {
        events
            .iter()
            .any(|e| e["type"] == kind && e["key_id"] == *key)
    };
    assert!(has("key_opened", &done["set_pin"]), "{done}");
    assert!(has("key_destroyed", &done["set_pin"]), "{done}");
    // The tampered envelope was a failed open; the two good ones opened.
    assert!(has("open_failed", &done["compact_and_refusal"]), "{done}");
    assert!(has("key_opened", &done["compact_and_refusal"]), "{done}");
    assert!(has("key_destroyed", &done["revoked"]), "{done}");
    // The local key never went near the node.
    assert!(!events.iter().any(|e| e["key_id"] == done["cli_sealed_to"]));
    assert_eq!(
        done["cli_sealed_to"].as_str().unwrap().len(),
        43,
        "a local key's id is its thumbprint"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_against_a_dev_node_and_the_cli() {
    let dir = typescript();
    let server = TestServer::start().await;
    let done = live(
        &server,
        "node".into(),
        vec!["test/live.js".into()],
        dir,
        true,
    )
    .await;
    assert_audited(&server, &done).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_against_a_dev_node_and_the_cli() {
    let (dir, python) = python();
    let server = TestServer::start().await;
    let done = live(&server, python, vec!["tests/live.py".into()], dir, false).await;
    assert!(done["asyncio"].as_str().is_some(), "{done}");
    assert_audited(&server, &done).await;
    server.stop().await;
}

/// The code block of `fence` (```rust, ```js, ```python) in README's "Client libraries".
fn readme_quick_start(fence: &str) -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split_once("## Client libraries")
        .expect("README has a Client libraries section")
        .1;
    let block = section
        .split_once(&format!("```{fence}\n"))
        .unwrap_or_else(|| panic!("no ```{fence} quick start in README"))
        .1;
    block.split_once("```").unwrap().0.to_owned()
}

/// README's quick start with the dev node's address and dev PKI directory in place of
/// `serve --dev`'s (`https://localhost:8443`, `dev-pki/`); nothing else is changed.
fn readme_quick_start_for(server: &TestServer, fence: &str) -> String {
    let code = readme_quick_start(fence);
    assert!(code.contains("https://localhost:8443") && code.contains("dev-pki/"));
    code.replace(
        "https://localhost:8443",
        &format!("https://localhost:{}", server.addr.port()),
    )
    .replace("dev-pki/", &format!("{}/", server.pki().display()))
}

/// The TypeScript and Python quick starts of README run as written (after the lines shown, one
/// more prints `pin`), and open what they sealed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_quick_starts_run_in_node_and_python() {
    let ts = typescript();
    let (py_dir, python) = python();
    let server = TestServer::start().await;
    let js = readme_quick_start_for(&server, "js")
        + "process.stdout.write(new TextDecoder().decode(pin));\n";
    let py = readme_quick_start_for(&server, "python") + "print(pin.decode(), end='')\n";
    let out = tokio::task::spawn_blocking(move || {
        // In sdk/typescript, `@ok2cry/client` resolves to the package itself (its dist/).
        let _one = TYPESCRIPT.lock().unwrap_or_else(|e| e.into_inner());
        let node = run(
            Command::new("node")
                .args(["--input-type=module", "--eval", &js])
                .current_dir(&ts),
            "README's TypeScript quick start",
        );
        drop(_one);
        let python = run(
            Command::new(&python)
                .args(["-c", &py])
                .env("PYTHONPATH", py_dir.join("src"))
                .current_dir(&py_dir),
            "README's Python quick start",
        );
        (node, python)
    })
    .await
    .unwrap();
    assert_eq!(out, ("2468".to_owned(), "2468".to_owned()));
    let events = server.audit_events().await;
    let opened = events.iter().filter(|e| e["type"] == "key_opened").count();
    assert_eq!(opened, 2, "one open for each quick start");
    server.stop().await;
}

/// README's Rust quick start, as written there between the markers below (only the node's
/// address and the PKI directory differ), runs against a dev node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_rust_quick_start_runs() {
    use ok2cry_client::http::{CreateKey, Ok2cryClient};
    let server = TestServer::start().await;
    let base = format!("https://localhost:{}", server.addr.port());
    let pki = server.pki();
    let pin = async {
        // README quick start (Rust) begins
        let pem = |f: &str| std::fs::read(pki.join(f)).unwrap();
        let ok2cry = Ok2cryClient::builder(base, &pem("ca.pem"))
            .client_identity(&pem("card-api.pem"), &pem("card-api.key"))
            .build()?;
        let created = ok2cry
            .create_key(&CreateKey {
                ttl_seconds: Some(60),
                ..Default::default()
            })
            .await?;
        let envelope = Envelope::seal(&ok2cry.verify_token(&created.token).await?, b"2468")?;
        let pin = ok2cry.open(&created.key_id, &envelope).await?;
        // README quick start (Rust) ends
        Ok::<_, Box<dyn std::error::Error>>(pin)
    }
    .await
    .unwrap();
    assert_eq!(pin.expose_secret(), b"2468");

    // The lines above are README's, token for token.
    let tokens = |s: &str| s.split_whitespace().collect::<String>();
    let this = include_str!("sdk.rs");
    let begin = "// README quick start (Rust) begins\n";
    let ran = this
        .split_once(begin)
        .unwrap()
        .1
        .split_once("// README quick start (Rust) ends")
        .unwrap()
        .0;
    let readme = readme_quick_start("rust")
        .replace("format!(\"dev-pki/{f}\")", "pki.join(f)")
        .replace("\"https://localhost:8443\"", "base");
    assert_eq!(tokens(ran), tokens(&readme));
    server.stop().await;
}
