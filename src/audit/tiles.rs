//! C2SP tlog-tiles paths, so that any tiles client can read the node's tree: the checkpoint,
//! hash tiles (`tile/<L>/<N>[.p/<W>]`) and entry bundles (`tile/entries/<N>[.p/<W>]`).
//!
//! The node's tile files are exactly the spec's tiles at levels 1 and up; level 0 and entry
//! bundles are read from the events (see [`super::reader`]).

use super::store::{AuditError, AuditLog};

/// A parsed tile path (the part after `tile/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TilePath {
    /// `None` for an entry bundle, else the level.
    pub level: Option<u32>,
    /// The tile index.
    pub index: u64,
    /// Its width (256 for a full tile).
    pub width: u64,
}

fn decimal(text: &str) -> Option<u64> {
    if text.is_empty()
        || !text.bytes().all(|b| b.is_ascii_digit())
        || (text.len() > 1 && text.starts_with('0'))
    {
        return None;
    }
    text.parse().ok()
}

impl TilePath {
    /// Parses `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`.
    pub fn parse(path: &str) -> Option<Self> {
        let mut parts: Vec<&str> = path.split('/').collect();
        let first = parts.remove(0);
        let level = if first == "entries" {
            None
        } else {
            let l = decimal(first)?;
            Some((l <= 63).then_some(l as u32)?)
        };
        // Index elements: x001/x234/067, then optionally ".p" on the last and a width.
        let mut width = 256;
        let mut index_parts = parts.clone();
        if let Some(pos) = parts.iter().position(|p| p.ends_with(".p")) {
            if pos + 2 != parts.len() {
                return None;
            }
            let w = decimal(parts[pos + 1])?;
            if !(1..=255).contains(&w) {
                return None;
            }
            width = w;
            index_parts = parts[..=pos].to_vec();
            let last = index_parts.pop()?;
            index_parts.push(last.strip_suffix(".p")?);
        }
        let (last, rest) = index_parts.split_last()?;
        let mut index = 0u64;
        for p in rest {
            let digits = p.strip_prefix('x')?;
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            index = index.checked_mul(1000)?.checked_add(digits.parse().ok()?)?;
        }
        if last.len() != 3 || !last.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        index = index.checked_mul(1000)?.checked_add(last.parse().ok()?)?;
        // The canonical encoding has no leading all-zero groups.
        if !rest.is_empty() && rest[0] == "x000" {
            return None;
        }
        Some(Self {
            level,
            index,
            width,
        })
    }

    /// The path (after `tile/`).
    pub fn render(&self) -> String {
        let mut groups = Vec::new();
        let mut n = self.index;
        loop {
            groups.push(n % 1000);
            n /= 1000;
            if n == 0 {
                break;
            }
        }
        groups.reverse();
        let last = groups.len() - 1;
        let index: Vec<String> = groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                if i == last {
                    format!("{g:03}")
                } else {
                    format!("x{g:03}")
                }
            })
            .collect();
        let head = match self.level {
            None => "entries".to_owned(),
            Some(l) => l.to_string(),
        };
        let mut out = format!("{head}/{}", index.join("/"));
        if self.width != 256 {
            out.push_str(&format!(".p/{}", self.width));
        }
        out
    }

    /// Reads the tile from the log.
    pub fn read(&self, log: &AuditLog) -> Result<Vec<u8>, AuditError> {
        match self.level {
            None => log.entry_bundle(self.index, self.width),
            Some(l) => log.tile(l, self.index, self.width),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_as_the_spec_writes_them() {
        let t = TilePath::parse("0/x001/x234/067").unwrap();
        assert_eq!(t.index, 1_234_067);
        assert_eq!(t.level, Some(0));
        assert_eq!(t.width, 256);
        assert_eq!(t.render(), "0/x001/x234/067");
        let p = TilePath::parse("2/000.p/1").unwrap();
        assert_eq!((p.level, p.index, p.width), (Some(2), 0, 1));
        assert_eq!(p.render(), "2/000.p/1");
        let e = TilePath::parse("entries/x001/005.p/112").unwrap();
        assert_eq!((e.level, e.index, e.width), (None, 1005, 112));
        assert_eq!(e.render(), "entries/x001/005.p/112");
        for bad in [
            "",
            "64/000",
            "01/000",
            "0/1",
            "0/x1/000",
            "0/000.p/0",
            "0/000.p/256",
            "0/000.p",
            "0/000.p/1/2",
            "0/x000/001",
            "entries/00a",
        ] {
            assert!(TilePath::parse(bad).is_none(), "{bad}");
        }
    }
}
