//! Hostile and sloppy clients against a real node over real TLS on 127.0.0.1:0 (issue 14):
//! connections that are held idle or trickle bytes are closed within their timeouts and cannot
//! starve authenticated clients; slow bodies get 408 (not 503), large bodies 413 on both HTTP
//! versions; bodies are read strictly (media type, object, members, `null`, duplicates) with
//! errors in the project's words; one principal cannot fill the store for the others.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Options, TestServer, create, now_secs, problem, verified};
use ok2cry_client::Envelope;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Short timeouts so that the test sees every one of them fire.
fn short_timeouts(extra: &str) -> Options {
    Options {
        extra_toml: format!(
            "\n[limits]\nhandshake_timeout_ms = 2000\nheader_timeout_ms = 2000\nrequest_timeout_ms = 2000\nidle_timeout_ms = 3000\n{extra}"
        ),
        ..Options::default()
    }
}

/// A TLS client configuration presenting `who`'s dev certificate.
fn tls_client(server: &TestServer, who: &str, alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    let pki = server.pki();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(pki.join("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(pki.join(format!("{who}.pem")))
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let key = PrivateKeyDer::from_pem_file(pki.join(format!("{who}.key"))).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn tcp_from(source: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(to).await
}

/// Reads until the server closes the connection; the time it closed.
async fn closed_at<S: tokio::io::AsyncRead + Unpin>(mut s: S) -> Instant {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return Instant::now(),
            Ok(_) => {}
        }
    }
}

/// How one hostile connection behaves.
#[derive(Clone, Copy, Debug)]
enum Hostile {
    /// TCP only, from an address of its own, never starts the TLS handshake.
    SilentTcp,
    /// TCP only, sends the first bytes of a ClientHello and then nothing.
    PartialHello,
    /// Authenticated (client certificate), then sends nothing.
    IdleTls,
    /// Authenticated, then trickles a request head one byte every 300 ms.
    SlowlorisTls,
}

/// Opens one hostile connection and holds it until the server closes it. Returns the kind,
/// how long the server took to close it after the point its timeout counts from, and the
/// timeout that applies.
async fn hold(
    kind: Hostile,
    addr: SocketAddr,
    source: IpAddr,
    tls: tokio_rustls::TlsConnector,
) -> (Hostile, Duration, Duration) {
    let tcp = tcp_from(source, addr).await.unwrap();
    match kind {
        Hostile::SilentTcp => {
            let from = Instant::now();
            let at = closed_at(tcp).await;
            (kind, at - from, Duration::from_millis(2000))
        }
        Hostile::PartialHello => {
            let mut tcp = tcp;
            tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
                .await
                .unwrap();
            let from = Instant::now();
            let at = closed_at(tcp).await;
            (kind, at - from, Duration::from_millis(2000))
        }
        Hostile::IdleTls => {
            let name = ServerName::try_from("localhost").unwrap();
            let stream = tls.connect(name, tcp).await.unwrap();
            let from = Instant::now();
            let at = closed_at(stream).await;
            (kind, at - from, Duration::from_millis(3000))
        }
        Hostile::SlowlorisTls => {
            let name = ServerName::try_from("localhost").unwrap();
            let stream = tls.connect(name, tcp).await.unwrap();
            let (mut read, mut write) = tokio::io::split(stream);
            let from = Instant::now();
            let trickle = tokio::spawn(async move {
                for b in b"POST /v1/keys HTTP/1.1\r\nHost: localhost\r\nX-Slow: "
                    .iter()
                    .cycle()
                {
                    if write.write_all(&[*b]).await.is_err() || write.flush().await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            });
            let mut buf = [0u8; 4096];
            let at = loop {
                match read.read(&mut buf).await {
                    Ok(0) | Err(_) => break Instant::now(),
                    Ok(_) => {}
                }
            };
            trickle.abort();
            (kind, at - from, Duration::from_millis(2000))
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_held_connections_neither_starve_clients_nor_stay_open() {
    let server = TestServer::start_with(short_timeouts(
        "max_unauthenticated_connections = 1100\nmax_unauthenticated_per_address = 64\n",
    ))
    .await;
    let addr = server.addr;
    let tls = tls_client(&server, "card-api", &[b"http/1.1"]);
    // The authenticated client connects first and keeps its connection (keep-alive).
    let client = server.client("card-api");
    let r = client
        .post(server.url("/v1/keys"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let mut held = Vec::new();
    let loopback = |n: u8| IpAddr::from([127, 0, 0, n]);
    // 500 anonymous connections from ten addresses, 50 each (under the per-address cap).
    for i in 0..500u32 {
        let kind = if i % 2 == 0 {
            Hostile::SilentTcp
        } else {
            Hostile::PartialHello
        };
        let source = loopback(2 + (i % 10) as u8);
        held.push((kind, tokio::spawn(hold(kind, addr, source, tls.clone()))));
        // In batches, so that the kernel's listen backlog (not the server) never overflows.
        if i % 32 == 31 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // 500 authenticated ones, opened a few dozen at a time so that their handshakes stay
    // under 127.0.0.1's share of the unauthenticated budget.
    for i in 0..500u32 {
        let kind = if i % 2 == 0 {
            Hostile::IdleTls
        } else {
            Hostile::SlowlorisTls
        };
        let source = loopback(20 + (i % 10) as u8);
        held.push((kind, tokio::spawn(hold(kind, addr, source, tls.clone()))));
        if i % 32 == 31 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // While they are held, the authenticated client creates and opens keys.
    let mut latencies = Vec::new();
    for _ in 0..100 {
        let t = Instant::now();
        let r = client
            .post(server.url("/v1/keys"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let key: Value = r.json().await.unwrap();
        latencies.push(t.elapsed());
        let vk = verified(
            &server,
            "card-api",
            key["token"].as_str().unwrap(),
            now_secs(),
        )
        .await;
        let envelope = Envelope::seal(&vk, b"1234").unwrap();
        let t = Instant::now();
        let r = client
            .post(server.url(&format!(
                "/v1/keys/{}/open",
                key["key_id"].as_str().unwrap()
            )))
            .json(&json!({"envelope": envelope.to_compact()}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        latencies.push(t.elapsed());
    }
    latencies.sort();
    // Reported, not asserted (figures belong to benchmarks; docs/SECURITY.md quotes a run).
    println!(
        "authenticated create/open under 1000 held connections: p50 {:?} p99 {:?} max {:?}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );

    // Every held connection is closed by the server within its timeout (plus the watchdog's
    // period and scheduling slack on a loaded machine).
    let mut by_kind = std::collections::BTreeMap::<String, (usize, Duration)>::new();
    let mut pending = std::collections::BTreeMap::<String, usize>::new();
    let mut done = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for (kind, h) in held {
        match tokio::time::timeout_at(deadline, h).await {
            Ok(r) => done.push(r.unwrap()),
            Err(_) => *pending.entry(format!("{kind:?}")).or_default() += 1,
        }
    }
    assert!(pending.is_empty(), "never closed: {pending:?}");
    for (kind, took, timeout) in done {
        assert!(
            took <= timeout + Duration::from_millis(1500),
            "{kind:?} closed after {took:?} (timeout {timeout:?})"
        );
        let e = by_kind.entry(format!("{kind:?}")).or_default();
        e.0 += 1;
        e.1 = e.1.max(took);
    }
    println!("closed, by kind (count, longest): {by_kind:?}");
    assert_eq!(by_kind.values().map(|v| v.0).sum::<usize>(), 1000);
    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("connections_closed_total{reason=\"idle timeout\"}"),
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test]
async fn anonymous_connections_have_their_own_smaller_budget() {
    let server = TestServer::start_with(short_timeouts(
        "max_connections = 8\nmax_unauthenticated_connections = 6\nmax_unauthenticated_per_address = 4\n",
    ))
    .await;
    let addr = server.addr;
    // An authenticated client holds a connection.
    let client = server.client("card-api");
    let r = client
        .post(server.url("/v1/keys"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // Anonymous connections from one address: four are let in, the rest are closed at once.
    let mut from_one = Vec::new();
    for _ in 0..8 {
        from_one.push(tcp_from(IpAddr::from([127, 0, 0, 2]), addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut refused = 0;
    for s in &mut from_one {
        if is_closed(s).await {
            refused += 1;
        }
    }
    assert_eq!(refused, 4, "the per-address cap");
    // Two more from another address fill the unauthenticated budget (6); a seventh is refused.
    let mut others = Vec::new();
    for _ in 0..3 {
        others.push(tcp_from(IpAddr::from([127, 0, 0, 3]), addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!is_closed(&mut others[0]).await);
    assert!(!is_closed(&mut others[1]).await);
    assert!(
        is_closed(&mut others[2]).await,
        "beyond the unauthenticated budget"
    );
    // The authenticated client still works over its connection.
    let r = client
        .post(server.url("/v1/keys"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    drop(from_one);
    drop(others);
    server.stop().await;
}

/// Whether the server has closed `s` (it has, if a read returns end of file at once).
async fn is_closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(
        tokio::time::timeout(Duration::from_millis(20), s.read(&mut b)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// Sends a request head announcing `length` body bytes, then `sent` of them, and reads the
/// answer as raw HTTP/1.1.
async fn slow_body(server: &TestServer, length: usize, sent: usize) -> (String, bool) {
    let tls = tls_client(server, "card-api", &[b"http/1.1"]);
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut s = tls
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let head = format!(
        "POST /v1/keys HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&vec![b' '; sent]).await.unwrap();
    s.flush().await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    (String::from_utf8_lossy(&answer).into_owned(), closed)
}

#[tokio::test]
async fn a_slow_body_gets_408_and_the_connection_is_closed() {
    let server = TestServer::start_with(short_timeouts("")).await;
    let (answer, closed) = slow_body(&server, 100, 10).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request-timeout"), "{answer}");
    assert!(
        !answer.to_ascii_lowercase().contains("retry-after"),
        "{answer}"
    );
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(closed, "the connection stays open after 408");
    server.stop().await;
}

#[tokio::test]
async fn large_bodies_get_413_on_http1_and_http2() {
    let server = TestServer::start().await;
    let big = vec![b' '; 10 * 1024 * 1024];
    for (http2, size) in [(false, big.len()), (true, 200_000), (true, big.len())] {
        let big = big[..size].to_vec();
        let pki = server.pki();
        let mut builder = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(
                &std::fs::read(pki.join("ca.pem")).unwrap(),
            )
            .unwrap()])
            .identity(
                reqwest::Identity::from_pem(
                    &[
                        std::fs::read(pki.join("card-api.pem")).unwrap(),
                        std::fs::read(pki.join("card-api.key")).unwrap(),
                    ]
                    .concat(),
                )
                .unwrap(),
            );
        builder = if http2 {
            builder.http2_prior_knowledge()
        } else {
            builder.http1_only()
        };
        let client = builder.build().unwrap();
        let r = client
            .post(server.url("/v1/keys"))
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("http2={http2} {size}: {e:?}"));
        assert_eq!(
            r.version(),
            if http2 {
                reqwest::Version::HTTP_2
            } else {
                reqwest::Version::HTTP_11
            }
        );
        assert_eq!(r.status(), 413, "http2={http2} {size}");
        let text = r
            .text()
            .await
            .unwrap_or_else(|e| panic!("http2={http2} {size}: {e:?}"));
        assert!(text.contains("payload-too-large"), "{text}");
    }
    server.stop().await;
}

async fn post_raw(
    server: &TestServer,
    path: &str,
    ct: Option<&str>,
    body: &str,
) -> reqwest::Response {
    let mut r = server.client("card-api").post(server.url(path));
    if let Some(ct) = ct {
        r = r.header("content-type", ct);
    }
    r.body(body.to_owned()).send().await.unwrap()
}

#[tokio::test]
async fn bodies_are_read_strictly_in_our_own_words() {
    let server = TestServer::start().await;
    let json = Some("application/json");
    // Not an object, duplicates, null for typed members, unknown members, wrong types.
    for bad in [
        "[1,2]",
        "[]",
        "3",
        "null",
        r#"{"ttl_seconds":60,"ttl_seconds":60}"#,
        r#"{"ttl_seconds":null}"#,
        r#"{"label":null}"#,
        r#"{"ttl_seconds":"60"}"#,
        r#"{"ttl_seconds":60.0}"#,
        r#"{"ttl_seconds":-1}"#,
        r#"{"ttl":60}"#,
        r#"{"ttl_seconds":60}garbage"#,
    ] {
        let r = post_raw(&server, "/v1/keys", json, bad).await;
        let p = problem(r, 400).await;
        let detail = p["detail"].as_str().unwrap();
        for leak in [
            "struct",
            "CreateBody",
            "invalid type",
            "expected",
            "u64",
            "Option<",
        ] {
            assert!(!detail.contains(leak), "{bad}: {detail}");
        }
    }
    // The right media type, or 415.
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let r = post_raw(&server, "/v1/keys", ct, r#"{"ttl_seconds":60}"#).await;
        let p = problem(r, 415).await;
        assert_eq!(
            p["type"],
            "https://ok2cry.dev/problems/unsupported-media-type"
        );
    }
    // An empty body still means "all defaults"; charset=utf-8 is fine.
    assert_eq!(post_raw(&server, "/v1/keys", None, "").await.status(), 201);
    assert_eq!(
        post_raw(
            &server,
            "/v1/keys",
            Some("application/json; charset=utf-8"),
            "{}"
        )
        .await
        .status(),
        201
    );

    // Open: a duplicated member or a null context inside the envelope, a duplicated member
    // or an unknown one in the body; each refused, and the key is still there.
    let key = create(&server, "card-api", json!({})).await;
    let key_id = key["key_id"].as_str().unwrap();
    let vk = verified(
        &server,
        "card-api",
        key["token"].as_str().unwrap(),
        now_secs(),
    )
    .await;
    let envelope = Envelope::seal(&vk, b"1234").unwrap().to_json();
    let path = format!("/v1/keys/{key_id}/open");
    let inner = envelope.trim_start_matches('{').trim_end_matches('}');
    for bad in [
        format!(r#"{{"envelope":{{"version":1,{inner}}}}}"#),
        format!(r#"{{"envelope":{{{inner},"context":null}}}}"#),
        format!(r#"{{"envelope":{envelope},"envelope":{envelope}}}"#),
        format!(r#"{{"envelope":{envelope},"x":1}}"#),
        r#"{"envelope":null}"#.to_owned(),
        "[]".to_owned(),
    ] {
        let r = post_raw(&server, &path, json, &bad).await;
        assert_eq!(r.status(), 400, "{bad}");
    }
    let r = post_raw(
        &server,
        &path,
        Some("text/plain"),
        &format!(r#"{{"envelope":{envelope}}}"#),
    )
    .await;
    assert_eq!(r.status(), 415);
    let r = post_raw(
        &server,
        &path,
        json,
        &format!(r#"{{"envelope":{envelope}}}"#),
    )
    .await;
    assert_eq!(r.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn one_principal_cannot_fill_the_store_for_the_others() {
    let server = TestServer::start_with(Options {
        extra_toml: "\n[keys]\nmax_live_keys = 10\nmax_live_keys_per_principal = 3\n".into(),
        ..Options::default()
    })
    .await;
    let mut mine = Vec::new();
    for _ in 0..3 {
        mine.push(create(&server, "card-api", json!({})).await);
    }
    let r = server
        .client("card-api")
        .post(server.url("/v1/keys"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["retry-after"], "1");
    let p = problem(r, 429).await;
    assert_eq!(p["type"], "https://ok2cry.dev/problems/quota-exceeded");
    assert_eq!(p["quota"], 3);
    // Another principal is not affected.
    create(&server, "proxy", json!({})).await;
    // A deleted key gives its place back.
    let id = mine[0]["key_id"].as_str().unwrap();
    let r = server
        .client("card-api")
        .delete(server.url(&format!("/v1/keys/{id}")))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    create(&server, "card-api", json!({})).await;
    server.stop().await;
}
