//! Where archived objects live: a directory, or a bucket behind the S3 API.
//!
//! An archive holds flat objects named like the files of a log directory
//! (`FORMAT`, `segment-000001.jsonl.zst`, `segment-000001.meta.json`, …). The S3 store signs
//! each request with SigV4 (`rusty-s3`, over AWS-LC) and sends it with reqwest; it needs
//! nothing of the bucket but GET, PUT, DELETE and ListObjectsV2 under its prefix.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why an archive request failed. Never carries credentials or signed URLs.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// The location or its settings are not usable.
    #[error("archive settings: {0}")]
    Config(String),
    /// A file system operation failed.
    #[error("archive I/O: {0}")]
    Io(String),
    /// The object store answered with an error or could not be reached.
    #[error("archive request: {0}")]
    Request(String),
    /// What was read back is not what was written.
    #[error("archive check: {0}")]
    Mismatch(String),
}

/// S3 access keys. Not printable; the secret is wiped when dropped.
pub struct S3Keys {
    credentials: rusty_s3::Credentials,
}

impl S3Keys {
    /// Keys given directly.
    pub fn new(access_key_id: &str, secret_access_key: &str) -> Self {
        Self {
            credentials: rusty_s3::Credentials::new(access_key_id, secret_access_key),
        }
    }

    /// A TOML file of `access_key_id` and `secret_access_key`, readable by its owner only.
    pub fn from_file(path: &Path) -> Result<Self, ArchiveError> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            access_key_id: String,
            secret_access_key: String,
        }
        impl Drop for File {
            fn drop(&mut self) {
                zeroize::Zeroize::zeroize(&mut self.secret_access_key);
            }
        }
        let shown = path.display();
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|e| ArchiveError::Config(format!("{shown}: {e}")))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(ArchiveError::Config(format!(
                    "{shown} is readable by others (mode {:o}); chmod 600 it",
                    mode & 0o777
                )));
            }
        }
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| ArchiveError::Config(format!("{shown}: {e}")))?,
        );
        // The parser's error could quote the secret: say only where it failed.
        let f: File = toml::from_str(&text).map_err(|_| {
            ArchiveError::Config(format!(
                "{shown}: not a TOML file of access_key_id and secret_access_key"
            ))
        })?;
        Ok(Self::new(&f.access_key_id, &f.secret_access_key))
    }

    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`, if set).
    pub fn from_env() -> Result<Self, ArchiveError> {
        rusty_s3::Credentials::from_env()
            .map(|credentials| Self { credentials })
            .ok_or_else(|| {
                ArchiveError::Config(
                    "S3 needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment"
                        .into(),
                )
            })
    }
}

/// Where an archive is: `s3://bucket/prefix` or a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A directory (created when missing).
    Dir(PathBuf),
    /// A bucket and a key prefix (empty, or ending with `/`).
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix.
        prefix: String,
    },
}

impl Location {
    /// Parses `s3://bucket[/prefix]` or a path.
    pub fn parse(text: &str) -> Result<Self, ArchiveError> {
        let Some(rest) = text.strip_prefix("s3://") else {
            if text.is_empty() {
                return Err(ArchiveError::Config("an empty archive location".into()));
            }
            return Ok(Self::Dir(PathBuf::from(text)));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid_bucket {
            return Err(ArchiveError::Config(format!(
                "{text:?}: a bucket name is 3 to 63 lowercase letters, digits, dots and hyphens"
            )));
        }
        let mut prefix = prefix.trim_matches('/').to_owned();
        if prefix.split('/').any(|p| p == "." || p == "..")
            || prefix.bytes().any(|b| b.is_ascii_control())
        {
            return Err(ArchiveError::Config(format!("{text:?}: a bad key prefix")));
        }
        if !prefix.is_empty() {
            prefix.push('/');
        }
        Ok(Self::S3 {
            bucket: bucket.to_owned(),
            prefix,
        })
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dir(d) => write!(f, "{}", d.display()),
            Self::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// How to reach an S3 endpoint.
#[derive(Debug, Clone)]
pub struct S3Endpoint {
    /// `https://…` (or `http://` on loopback, for tests and local gateways).
    pub url: String,
    /// The signing region.
    pub region: String,
}

/// An open archive.
pub struct ArchiveStore {
    location: Location,
    kind: Kind,
}

enum Kind {
    Dir(PathBuf),
    S3(Box<S3Store>),
}

struct S3Store {
    bucket: rusty_s3::Bucket,
    keys: S3Keys,
    prefix: String,
    http: reqwest::Client,
}

/// How long a signed request stays valid.
const SIGNED_FOR: Duration = Duration::from_secs(300);

impl ArchiveStore {
    /// Opens `location`; S3 needs an endpoint and keys.
    pub fn open(
        location: Location,
        endpoint: Option<&S3Endpoint>,
        keys: Option<S3Keys>,
    ) -> Result<Self, ArchiveError> {
        let kind = match &location {
            Location::Dir(d) => Kind::Dir(d.clone()),
            Location::S3 { bucket, prefix } => {
                let endpoint = endpoint.ok_or_else(|| {
                    ArchiveError::Config("an s3:// archive needs an endpoint and a region".into())
                })?;
                let url: url::Url = endpoint.url.parse().map_err(|_| {
                    ArchiveError::Config(format!("{:?} is not a URL", endpoint.url))
                })?;
                let loopback = matches!(
                    url.host(),
                    Some(url::Host::Ipv4(a)) if a.is_loopback()
                ) || matches!(url.host(), Some(url::Host::Ipv6(a)) if a.is_loopback())
                    || url.host_str() == Some("localhost");
                if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
                    return Err(ArchiveError::Config(
                        "the S3 endpoint must be https:// (http:// only on loopback)".into(),
                    ));
                }
                let bucket = rusty_s3::Bucket::new(
                    url,
                    rusty_s3::UrlStyle::Path,
                    bucket.clone(),
                    endpoint.region.clone(),
                )
                .map_err(|e| ArchiveError::Config(format!("S3 bucket: {e}")))?;
                let keys = keys.ok_or_else(|| ArchiveError::Config("S3 needs keys".into()))?;
                let http = reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .timeout(Duration::from_secs(120))
                    .build()
                    .map_err(|e| ArchiveError::Config(format!("HTTP client: {e}")))?;
                Kind::S3(Box::new(S3Store {
                    bucket,
                    keys,
                    prefix: prefix.clone(),
                    http,
                }))
            }
        };
        Ok(Self { location, kind })
    }

    /// Where it is.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Stores `bytes` as `name`, durably (a directory: written, synced, renamed into place).
    pub async fn put(&self, name: &str, bytes: Vec<u8>) -> Result<(), ArchiveError> {
        check_name(name)?;
        match &self.kind {
            Kind::Dir(dir) => {
                let (dir, name) = (dir.clone(), name.to_owned());
                blocking(move || put_file(&dir, &name, &bytes)).await
            }
            Kind::S3(s3) => s3.put(name, bytes).await,
        }
    }

    /// The object `name`, or `None` when there is none.
    pub async fn get(&self, name: &str) -> Result<Option<Vec<u8>>, ArchiveError> {
        check_name(name)?;
        match &self.kind {
            Kind::Dir(dir) => {
                let path = dir.join(name);
                blocking(move || match std::fs::read(&path) {
                    Ok(b) => Ok(Some(b)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(ArchiveError::Io(format!("{}: {e}", path.display()))),
                })
                .await
            }
            Kind::S3(s3) => s3.get(name).await,
        }
    }

    /// Removes `name` (no error when it is not there).
    pub async fn delete(&self, name: &str) -> Result<(), ArchiveError> {
        check_name(name)?;
        match &self.kind {
            Kind::Dir(dir) => {
                let path = dir.join(name);
                blocking(move || match std::fs::remove_file(&path) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(ArchiveError::Io(format!("{}: {e}", path.display()))),
                })
                .await
            }
            Kind::S3(s3) => s3.delete(name).await,
        }
    }

    /// The names of every object, sorted.
    pub async fn list(&self) -> Result<Vec<String>, ArchiveError> {
        let mut names = match &self.kind {
            Kind::Dir(dir) => {
                let dir = dir.clone();
                blocking(move || {
                    let entries = match std::fs::read_dir(&dir) {
                        Ok(e) => e,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                            return Ok(Vec::new());
                        }
                        Err(e) => return Err(ArchiveError::Io(format!("{}: {e}", dir.display()))),
                    };
                    let mut out = Vec::new();
                    for entry in entries {
                        let entry = entry.map_err(|e| ArchiveError::Io(e.to_string()))?;
                        let name = entry.file_name().to_string_lossy().into_owned();
                        if check_name(&name).is_ok() && !name.ends_with(".partial") {
                            out.push(name);
                        }
                    }
                    Ok(out)
                })
                .await?
            }
            Kind::S3(s3) => s3.list().await?,
        };
        names.sort();
        Ok(names)
    }
}

/// Object names are file names: no separators, no dot names.
fn check_name(name: &str) -> Result<(), ArchiveError> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ArchiveError::Config(format!(
            "{name:?} is not an archive object name"
        )))
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ArchiveError> + Send + 'static,
) -> Result<T, ArchiveError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ArchiveError::Io(format!("archive task: {e}")))?
}

fn put_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), ArchiveError> {
    use std::io::Write;
    let err = |e: std::io::Error| ArchiveError::Io(format!("{}: {e}", dir.join(name).display()));
    std::fs::create_dir_all(dir).map_err(err)?;
    let partial = dir.join(format!("{name}.partial"));
    let mut f = std::fs::File::create(&partial).map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    drop(f);
    std::fs::rename(&partial, dir.join(name)).map_err(err)?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(err)
}

impl S3Store {
    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn request(&self, method: reqwest::Method, url: url::Url) -> reqwest::RequestBuilder {
        // Garage (and AWS for some requests) wants the payload hash header even on presigned
        // requests; the payload is not signed (its hash is checked by reading it back).
        self.http
            .request(method, url.as_str())
            .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
    }

    async fn send(
        &self,
        what: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ArchiveError> {
        // The error text names the operation and object, never the signed URL.
        req.send()
            .await
            .map_err(|e| ArchiveError::Request(format!("{what}: {}", e.without_url())))
    }

    async fn put(&self, name: &str, bytes: Vec<u8>) -> Result<(), ArchiveError> {
        use rusty_s3::S3Action;
        let key = self.key(name);
        let url = self
            .bucket
            .put_object(Some(&self.keys.credentials), &key)
            .sign(SIGNED_FOR);
        let what = format!("PUT {key}");
        let resp = self
            .send(&what, self.request(reqwest::Method::PUT, url).body(bytes))
            .await?;
        status_ok(&what, resp).await.map(drop)
    }

    async fn get(&self, name: &str) -> Result<Option<Vec<u8>>, ArchiveError> {
        use rusty_s3::S3Action;
        let key = self.key(name);
        let url = self
            .bucket
            .get_object(Some(&self.keys.credentials), &key)
            .sign(SIGNED_FOR);
        let what = format!("GET {key}");
        let resp = self
            .send(&what, self.request(reqwest::Method::GET, url))
            .await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = status_ok(&what, resp).await?;
        let body = resp
            .bytes()
            .await
            .map_err(|e| ArchiveError::Request(format!("{what}: {}", e.without_url())))?;
        Ok(Some(body.to_vec()))
    }

    async fn delete(&self, name: &str) -> Result<(), ArchiveError> {
        use rusty_s3::S3Action;
        let key = self.key(name);
        let url = self
            .bucket
            .delete_object(Some(&self.keys.credentials), &key)
            .sign(SIGNED_FOR);
        let what = format!("DELETE {key}");
        let resp = self
            .send(&what, self.request(reqwest::Method::DELETE, url))
            .await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        status_ok(&what, resp).await.map(drop)
    }

    async fn list(&self) -> Result<Vec<String>, ArchiveError> {
        use rusty_s3::S3Action;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = self.bucket.list_objects_v2(Some(&self.keys.credentials));
            if !self.prefix.is_empty() {
                action.with_prefix(self.prefix.as_str());
            }
            if let Some(t) = &token {
                action.with_continuation_token(t.as_str());
            }
            let url = action.sign(SIGNED_FOR);
            let what = format!("LIST {}", self.prefix);
            let resp = self
                .send(&what, self.request(reqwest::Method::GET, url))
                .await?;
            let text = status_ok(&what, resp)
                .await?
                .text()
                .await
                .map_err(|e| ArchiveError::Request(format!("{what}: {}", e.without_url())))?;
            let page = rusty_s3::actions::ListObjectsV2::parse_response(&text)
                .map_err(|e| ArchiveError::Request(format!("{what}: unreadable answer: {e}")))?;
            for object in page.contents {
                if let Some(name) = object.key.strip_prefix(self.prefix.as_str())
                    && check_name(name).is_ok()
                {
                    out.push(name.to_owned());
                }
            }
            match page.next_continuation_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => break,
            }
        }
        Ok(out)
    }
}

async fn status_ok(what: &str, resp: reqwest::Response) -> Result<reqwest::Response, ArchiveError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    // S3 error bodies are XML with a code; keep the code, not the body.
    let body = resp.text().await.unwrap_or_default();
    let code = body
        .split("<Code>")
        .nth(1)
        .and_then(|r| r.split("</Code>").next())
        .filter(|c| c.len() < 64 && c.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or("");
    Err(ArchiveError::Request(format!("{what}: {status} {code}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        assert_eq!(
            Location::parse("s3://audit-bucket/node-1").ok(),
            Some(Location::S3 {
                bucket: "audit-bucket".into(),
                prefix: "node-1/".into()
            })
        );
        assert_eq!(
            Location::parse("s3://audit-bucket").ok(),
            Some(Location::S3 {
                bucket: "audit-bucket".into(),
                prefix: String::new()
            })
        );
        assert_eq!(
            Location::parse("/var/lib/ok2cry/archive").ok(),
            Some(Location::Dir("/var/lib/ok2cry/archive".into()))
        );
        for bad in ["s3://", "s3://A", "s3://x", "s3://ok-bucket/../x", ""] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_flat() {
        for good in [
            "FORMAT",
            "segment-000001.jsonl.zst",
            "segment-000001.meta.json",
        ] {
            assert!(check_name(good).is_ok());
        }
        for bad in ["", "..", ".hidden", "a/b", "a b", "x\n"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn plain_http_only_on_loopback() {
        let s3 = Location::parse("s3://audit-bucket/n").unwrap();
        let open = |url: &str| {
            ArchiveStore::open(
                s3.clone(),
                Some(&S3Endpoint {
                    url: url.into(),
                    region: "r".into(),
                }),
                Some(S3Keys::new("k", "s")),
            )
        };
        assert!(open("http://127.0.0.1:3900").is_ok());
        assert!(open("https://s3.example.com").is_ok());
        assert!(open("http://s3.example.com").is_err());
    }

    #[tokio::test]
    async fn a_directory_store_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let store = ArchiveStore::open(Location::Dir(dir.path().join("a")), None, None).unwrap();
        assert_eq!(store.list().await.ok(), Some(vec![]));
        assert!(store.put("FORMAT", b"x".to_vec()).await.is_ok());
        assert!(
            store
                .put("segment-000001.jsonl.zst", vec![1, 2])
                .await
                .is_ok()
        );
        assert_eq!(
            store.get("FORMAT").await.ok().flatten(),
            Some(b"x".to_vec())
        );
        assert_eq!(store.get("nothing").await.ok(), Some(None));
        assert_eq!(
            store.list().await.ok(),
            Some(vec![
                "FORMAT".to_owned(),
                "segment-000001.jsonl.zst".to_owned()
            ])
        );
        assert!(store.delete("FORMAT").await.is_ok());
        assert!(store.delete("FORMAT").await.is_ok());
        assert!(store.put("../x", vec![]).await.is_err());
    }
}
