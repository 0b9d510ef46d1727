//! `ok2cry audit export`: a self-contained folder to verify a log offline.
//!
//! ```text
//! OUT/index.html                 the auditor's page (opens from disk; choose OUT to load it)
//! OUT/README.txt                 what this is and how to check it
//! OUT/log/FORMAT                 a copy of the log, as `ok2cry audit verify --dir OUT/log` reads it:
//! OUT/log/segment-N.jsonl        events (one canonical JSON line each),
//! OUT/log/segment-N.meta.json    segment metadata,
//! OUT/log/segment-N.checkpoints.jsonl   signed checkpoints with the witnesses' cosignatures
//! OUT/log/index.json             the list of the files above (the page reads it over HTTP)
//! ```
//!
//! The copy may be taken from a running node: for each segment, its metadata and checkpoint
//! records are copied before its events, so every copied checkpoint covers copied events (the
//! newest segment may end with a line being written: the verifier notes it). Nothing here is
//! secret: the audit key is not in the log directory, and events carry none.

use super::route::is_log_file;
use crate::audit::layout;
use std::path::{Path, PathBuf};

/// What to export.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Only segments from this number on (the page and the verifier then start there, with a
    /// note that earlier segments are not verified).
    pub from_segment: Option<u64>,
}

/// What was exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// Segments copied.
    pub segments: usize,
    /// The first and last segment numbers copied.
    pub range: Option<(u64, u64)>,
    /// Bytes of log files copied.
    pub bytes: u64,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The source is not a log of format 2.
    #[error("{0}")]
    NotALog(String),
    /// The destination exists and is not an empty folder.
    #[error("{0} exists and is not an empty folder; not writing into it")]
    Exists(PathBuf),
    /// The destination is inside the log directory.
    #[error("the export folder must be outside the log directory")]
    Inside,
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The page could not be assembled.
    #[error(transparent)]
    Page(#[from] super::page::PageError),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Creates `out` (it may exist if empty).
fn fresh_folder(out: &Path) -> Result<(), ExportError> {
    if out.exists() {
        let empty = out.is_dir() && std::fs::read_dir(out).map_err(io(out))?.next().is_none();
        if !empty {
            return Err(ExportError::Exists(out.to_owned()));
        }
    }
    std::fs::create_dir_all(out).map_err(io(out))
}

/// Writes the page alone to `out/index.html`: an auditor's own copy, from the ok2cry they
/// trust, to open log folders received from elsewhere.
pub fn write_page(out: &Path) -> Result<PathBuf, ExportError> {
    fresh_folder(out)?;
    let page = super::page::page()?;
    let path = out.join("index.html");
    std::fs::write(&path, &page.html).map_err(io(&path))?;
    Ok(path)
}

fn copy(from: &Path, to: &Path) -> Result<Option<u64>, ExportError> {
    match std::fs::copy(from, to) {
        Ok(n) => Ok(Some(n)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(from)(e)),
    }
}

const README: &str = "ok2cry audit log export
=======================

index.html   the auditor's page: open it in a browser, choose this folder, paste the log's
             audit key (and witness keys) you received out of band; the page verifies every
             signature, every Merkle root and every key's destruction with WebCrypto.
log/         a copy of the log: FORMAT, segment-N.jsonl (events), segment-N.meta.json,
             segment-N.checkpoints.jsonl (signed checkpoints and witness cosignatures).

The same verdict from the command line (the reference):

    ok2cry audit verify --dir log --key AUDIT-KEY [--witness WITNESS-KEY]...

This folder came from the operator of the log. The page in it is a convenience: for an
independent verdict use your own ok2cry (`ok2cry audit export --out DIR` without --dir writes the
page alone), or the command line above.
";

/// Exports the log in `dir` to the new folder `out`.
pub fn export(dir: &Path, out: &Path, opts: &ExportOptions) -> Result<ExportSummary, ExportError> {
    let format_path = layout::format_path(dir);
    match std::fs::read_to_string(&format_path) {
        Ok(t) if t == layout::FORMAT => {}
        Ok(_) => {
            return Err(ExportError::NotALog(format!(
                "{} is not a log of format 2 (a log of format 1 is verified by `ok2cry audit verify` only)",
                dir.display()
            )));
        }
        Err(e) => {
            return Err(ExportError::NotALog(format!(
                "{} is not an audit log directory: {}: {e}",
                dir.display(),
                format_path.display()
            )));
        }
    }
    let dir_abs = dir.canonicalize().map_err(io(dir))?;
    let out_parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Ok(parent) = out_parent.canonicalize()
        && parent.starts_with(&dir_abs)
    {
        return Err(ExportError::Inside);
    }
    let numbers: Vec<u64> = layout::segment_numbers(dir)
        .map_err(io(dir))?
        .into_iter()
        .filter(|n| opts.from_segment.is_none_or(|from| *n >= from))
        // Archived and removed locally: not part of what this directory holds.
        .filter(|&n| !layout::archived_away(dir, n))
        .collect();
    if numbers.is_empty() {
        return Err(ExportError::NotALog(format!(
            "{} holds no segment{}",
            dir.display(),
            if opts.from_segment.is_some() {
                " from that number on"
            } else {
                ""
            }
        )));
    }
    fresh_folder(out)?;
    let log = out.join("log");
    std::fs::create_dir_all(&log).map_err(io(&log))?;
    let mut bytes = 0;
    if let Some(n) = copy(&format_path, &layout::format_path(&log))? {
        bytes += n;
    }
    for &n in &numbers {
        // Metadata and checkpoints first: every checkpoint copied covers events copied.
        for (from, to) in [
            (layout::meta_path(dir, n), layout::meta_path(&log, n)),
            (
                layout::checkpoints_path(dir, n),
                layout::checkpoints_path(&log, n),
            ),
            (layout::segment_path(dir, n), layout::segment_path(&log, n)),
        ] {
            if let Some(b) = copy(&from, &to)? {
                bytes += b;
            }
        }
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&log).map_err(io(&log))? {
        let entry = entry.map_err(io(&log))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let size = entry.metadata().map_err(io(&entry.path()))?.len();
        if is_log_file(&name) {
            files.push((name, size));
        }
    }
    files.sort();
    let listing = serde_json::json!({
        "files": files
            .iter()
            .map(|(name, size)| serde_json::json!({"name": name, "size": size}))
            .collect::<Vec<_>>(),
    });
    let listing_path = log.join("index.json");
    std::fs::write(&listing_path, format!("{listing:#}\n")).map_err(io(&listing_path))?;
    let page = super::page::page()?;
    let page_path = out.join("index.html");
    std::fs::write(&page_path, &page.html).map_err(io(&page_path))?;
    let readme = out.join("README.txt");
    std::fs::write(&readme, README).map_err(io(&readme))?;
    Ok(ExportSummary {
        segments: numbers.len(),
        range: numbers.first().copied().zip(numbers.last().copied()),
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_log_and_a_folder_in_use() {
        let tmp = tempfile::tempdir().unwrap();
        let not_a_log = tmp.path().join("empty");
        std::fs::create_dir_all(&not_a_log).unwrap();
        let e = export(
            &not_a_log,
            &tmp.path().join("out"),
            &ExportOptions::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("not an audit log directory"), "{e}");
        let log = tmp.path().join("log");
        std::fs::create_dir_all(&log).unwrap();
        std::fs::write(layout::format_path(&log), "ok2cry-audit-log 1\n").unwrap();
        let e = export(&log, &tmp.path().join("out"), &ExportOptions::default()).unwrap_err();
        assert!(e.to_string().contains("format 1"), "{e}");
        std::fs::write(layout::format_path(&log), layout::FORMAT).unwrap();
        let e = export(&log, &tmp.path().join("out"), &ExportOptions::default()).unwrap_err();
        assert!(e.to_string().contains("holds no segment"), "{e}");
        std::fs::write(layout::segment_path(&log, 1), "").unwrap();
        let e = export(&log, &log.join("export"), &ExportOptions::default()).unwrap_err();
        assert!(matches!(e, ExportError::Inside), "{e}");
        let used = tmp.path().join("used");
        std::fs::create_dir_all(&used).unwrap();
        std::fs::write(used.join("x"), "x").unwrap();
        let e = export(&log, &used, &ExportOptions::default()).unwrap_err();
        assert!(matches!(e, ExportError::Exists(_)), "{e}");
        let e = write_page(&used).unwrap_err();
        assert!(matches!(e, ExportError::Exists(_)), "{e}");
        // A new folder: the page and the copy.
        let out = tmp.path().join("out");
        let s = export(&log, &out, &ExportOptions::default()).unwrap();
        assert_eq!(s.segments, 1);
        assert_eq!(s.range, Some((1, 1)));
        assert!(out.join("index.html").exists() && out.join("README.txt").exists());
        let listing = std::fs::read_to_string(out.join("log/index.json")).unwrap();
        assert!(listing.contains("\"FORMAT\"") && listing.contains("segment-000001.jsonl"));
        let page_only = tmp.path().join("page");
        let p = write_page(&page_only).unwrap();
        assert_eq!(
            std::fs::read_to_string(p).unwrap(),
            std::fs::read_to_string(out.join("index.html")).unwrap()
        );
    }
}
