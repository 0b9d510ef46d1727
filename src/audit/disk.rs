//! The log's files on disk: appends, fsync, atomic replacement, and the hooks through which
//! faults are injected and a power loss is simulated.
//!
//! Every write the log makes goes through [`LogFile`] or [`write_atomic`], which tell the
//! [`Disk`] what became durable (a file's length after `fdatasync`, a directory's entries after
//! `fsync` of the directory). The real disk ignores that; [`danger::PowerLoss`] records it and,
//! when the test says so, puts every file back to what was durable — exactly what a machine
//! that lost power would find — so a test can prove that nothing acknowledged is lost.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What an operation is about to do (for fault injection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Append or write bytes.
    Write,
    /// `fdatasync`/`fsync` a file or a directory.
    Sync,
    /// Create, rename or remove a directory entry.
    Entry,
}

/// The storage the log writes to, as far as durability is concerned.
pub trait Disk: Send + Sync + 'static {
    /// Called before every write, sync and directory change; an error fails the operation as
    /// the real call would (a full disk, an I/O error, a machine that is gone).
    fn check(&self, _op: Op, _path: &Path) -> io::Result<()> {
        Ok(())
    }
    /// The first `len` bytes of `path` are durable.
    fn synced(&self, _path: &Path, _len: u64) {}
    /// The entries of directory `dir` are durable.
    fn dir_synced(&self, _dir: &Path) {}
    /// `path` is about to be replaced atomically (its current content is durable).
    fn will_replace(&self, _path: &Path) {}
    /// `path` was atomically and durably replaced by `bytes` (rename + fsync of its
    /// directory).
    fn replaced(&self, path: &Path, _bytes: &[u8]) {
        self.synced(path, _bytes.len() as u64);
    }
}

/// The real disk: no hooks.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealDisk;

impl Disk for RealDisk {}

/// A disk whose writes fail while `fail` is set (as if it were full), for fault tests over a
/// running node.
#[derive(Debug, Default)]
pub struct FaultyDisk {
    fail: std::sync::atomic::AtomicBool,
}

impl FaultyDisk {
    /// Makes every write fail (`true`) or succeed again.
    pub fn set_fail(&self, fail: bool) {
        self.fail.store(fail, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Disk for FaultyDisk {
    fn check(&self, op: Op, _path: &Path) -> io::Result<()> {
        if op != Op::Sync && self.fail.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device (injected)",
            ));
        }
        Ok(())
    }
}

/// An append-only file whose length the log tracks, so a failed write is cut back and never
/// leaves a partial record.
pub struct LogFile {
    file: File,
    path: PathBuf,
    len: u64,
    disk: Arc<dyn Disk>,
}

impl LogFile {
    /// Creates a new file (it must not exist) and makes its directory entry durable.
    pub fn create(path: &Path, disk: Arc<dyn Disk>) -> io::Result<Self> {
        disk.check(Op::Entry, path)?;
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .open(path)?;
        let f = Self {
            file,
            path: path.to_owned(),
            len: 0,
            disk,
        };
        f.disk.synced(&f.path, 0);
        if let Some(dir) = path.parent() {
            sync_dir(dir, &f.disk)?;
        }
        Ok(f)
    }

    /// Opens an existing file for appending, at its current length.
    pub fn open(path: &Path, disk: Arc<dyn Disk>) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).append(true).open(path)?;
        let len = file.metadata()?.len();
        Ok(Self {
            file,
            path: path.to_owned(),
            len,
            disk,
        })
    }

    /// Opens the file, creating it (durably) when missing.
    pub fn open_or_create(path: &Path, disk: Arc<dyn Disk>) -> io::Result<Self> {
        if path.exists() {
            Self::open(path, disk)
        } else {
            Self::create(path, disk)
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes written (durable or not).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `bytes`; on failure the file is cut back to its previous length.
    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let result = self
            .disk
            .check(Op::Write, &self.path)
            .and_then(|()| self.file.write_all(bytes));
        match result {
            Ok(()) => {
                self.len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                let _ = self.file.set_len(self.len);
                Err(e)
            }
        }
    }

    /// Makes everything appended so far durable (`fdatasync`).
    pub fn sync(&mut self) -> io::Result<()> {
        self.disk.check(Op::Sync, &self.path)?;
        self.file.sync_data()?;
        self.disk.synced(&self.path, self.len);
        Ok(())
    }

    /// Cuts the file to `len` bytes (and makes that durable).
    pub fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.disk.check(Op::Write, &self.path)?;
        self.file.set_len(len)?;
        self.len = len;
        self.sync()
    }
}

/// Makes the entries of `dir` durable (`fsync` of the directory).
pub fn sync_dir(dir: &Path, disk: &Arc<dyn Disk>) -> io::Result<()> {
    disk.check(Op::Sync, dir)?;
    File::open(dir)?.sync_all()?;
    disk.dir_synced(dir);
    Ok(())
}

/// Replaces `path` with `bytes` atomically and durably: a temporary file, fsync, rename,
/// fsync of the directory. `mode` sets the permissions of a new file (Unix).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32, disk: &Arc<dyn Disk>) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    disk.check(Op::Write, &tmp)?;
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = options.open(&tmp)?;
    f.write_all(bytes)?;
    disk.check(Op::Sync, &tmp)?;
    f.sync_all()?;
    drop(f);
    disk.check(Op::Entry, path)?;
    disk.will_replace(path);
    std::fs::rename(&tmp, path)?;
    disk.check(Op::Sync, dir)?;
    File::open(dir)?.sync_all()?;
    disk.dir_synced(dir);
    disk.replaced(path, bytes);
    Ok(())
}

/// Test instruments. Named `danger` because they break the durability they observe.
pub mod danger {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Mutex;

    /// A disk that remembers what was durable and can lose everything else, as a machine
    /// that loses power does; optionally it "loses power" by itself after a number of
    /// operations (every later operation fails, as on a dead machine).
    #[derive(Default)]
    pub struct PowerLoss {
        inner: Mutex<State>,
    }

    #[derive(Default)]
    struct State {
        /// Durable length per file.
        synced: BTreeMap<PathBuf, u64>,
        /// Durable content of files replaced atomically (a rename not yet made durable by an
        /// fsync of the directory leaves the old content).
        replaced: BTreeMap<PathBuf, Vec<u8>>,
        /// Durable entries per directory.
        entries: BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        /// Operations left before the power goes (None: never).
        budget: Option<u64>,
        dead: bool,
    }

    impl PowerLoss {
        /// Watches `dirs` (what is in them now counts as durable).
        pub fn new(dirs: &[&Path]) -> io::Result<Self> {
            let me = Self::default();
            {
                let mut s = me.lock();
                for dir in dirs {
                    std::fs::create_dir_all(dir)?;
                    let mut set = BTreeSet::new();
                    for e in std::fs::read_dir(dir)? {
                        let e = e?;
                        let p = e.path();
                        if e.file_type()?.is_file() {
                            s.synced.insert(p.clone(), e.metadata()?.len());
                        }
                        set.insert(p);
                    }
                    s.entries.insert(dir.to_path_buf(), set);
                }
            }
            Ok(me)
        }

        fn lock(&self) -> std::sync::MutexGuard<'_, State> {
            self.inner.lock().unwrap_or_else(|e| e.into_inner())
        }

        /// The power goes after `ops` more operations.
        pub fn arm(&self, ops: u64) {
            let mut s = self.lock();
            s.budget = Some(ops);
        }

        /// Whether the power has gone.
        pub fn is_dead(&self) -> bool {
            self.lock().dead
        }

        /// Loses everything that was not durable: files cut to their durable length, entries
        /// created since the last fsync of their directory removed. Call it once the writer
        /// has stopped (the process is gone).
        pub fn lose_power(&self) -> io::Result<()> {
            let mut s = self.lock();
            s.dead = true;
            let dirs: Vec<PathBuf> = s.entries.keys().cloned().collect();
            for dir in dirs {
                let durable = s.entries.get(&dir).cloned().unwrap_or_default();
                for e in std::fs::read_dir(&dir)? {
                    let p = e?.path();
                    if !p.is_file() {
                        continue;
                    }
                    if let Some(content) = s.replaced.get(&p) {
                        std::fs::write(&p, content)?;
                        continue;
                    }
                    if !durable.contains(&p) {
                        std::fs::remove_file(&p)?;
                        continue;
                    }
                    let len = s.synced.get(&p).copied().unwrap_or(0);
                    let f = OpenOptions::new().write(true).open(&p)?;
                    if f.metadata()?.len() > len {
                        f.set_len(len)?;
                    }
                }
            }
            Ok(())
        }
    }

    impl Disk for PowerLoss {
        fn check(&self, _op: Op, path: &Path) -> io::Result<()> {
            let mut s = self.lock();
            if s.dead {
                return Err(io::Error::other(format!(
                    "power lost (simulated) before {}",
                    path.display()
                )));
            }
            if let Some(left) = s.budget.as_mut() {
                if *left == 0 {
                    s.dead = true;
                    return Err(io::Error::other("power lost (simulated)"));
                }
                *left -= 1;
            }
            Ok(())
        }

        fn synced(&self, path: &Path, len: u64) {
            let mut s = self.lock();
            if !s.dead {
                s.synced.insert(path.to_owned(), len);
            }
        }

        fn will_replace(&self, path: &Path) {
            let mut s = self.lock();
            if !s.dead
                && !s.replaced.contains_key(path)
                && let Ok(current) = std::fs::read(path)
            {
                s.replaced.insert(path.to_owned(), current);
            }
        }

        fn replaced(&self, path: &Path, bytes: &[u8]) {
            let mut s = self.lock();
            if !s.dead {
                s.replaced.insert(path.to_owned(), bytes.to_vec());
                s.synced.insert(path.to_owned(), bytes.len() as u64);
            }
        }

        fn dir_synced(&self, dir: &Path) {
            let mut s = self.lock();
            if s.dead {
                return;
            }
            let Ok(read) = std::fs::read_dir(dir) else {
                return;
            };
            let set: BTreeSet<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
            s.entries.insert(dir.to_owned(), set);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::danger::PowerLoss;
    use super::*;

    #[test]
    fn power_loss_keeps_exactly_what_was_durable() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old");
        std::fs::write(&old, b"before").unwrap();
        let pl = Arc::new(PowerLoss::new(&[dir.path()]).unwrap());
        let disk: Arc<dyn Disk> = pl.clone();
        let mut f = LogFile::open(&old, disk.clone()).unwrap();
        f.append(b" synced").unwrap();
        f.sync().unwrap();
        f.append(b" lost").unwrap();
        let mut created = LogFile::create(&dir.path().join("new"), disk.clone()).unwrap();
        created.append(b"x").unwrap();
        created.sync().unwrap();
        write_atomic(&dir.path().join("state"), b"s1", 0o600, &disk).unwrap();
        // A file whose directory entry was never made durable (no fsync of the directory).
        std::fs::write(dir.path().join("unsynced-entry"), b"y").unwrap();
        // A replacement that was renamed into place but whose directory was not synced: the
        // old content is what survives.
        std::fs::write(dir.path().join(".state.tmp"), b"s2-longer").unwrap();
        std::fs::rename(dir.path().join(".state.tmp"), dir.path().join("state")).unwrap();
        pl.lose_power().unwrap();
        assert_eq!(std::fs::read(&old).unwrap(), b"before synced");
        assert_eq!(std::fs::read(dir.path().join("new")).unwrap(), b"x");
        assert!(!dir.path().join("unsynced-entry").exists());
        assert_eq!(std::fs::read(dir.path().join("state")).unwrap(), b"s1");
        assert!(f.append(b"more").is_err());
    }

    #[test]
    fn an_armed_disk_dies_after_its_budget() {
        let dir = tempfile::tempdir().unwrap();
        let pl = Arc::new(PowerLoss::new(&[dir.path()]).unwrap());
        let disk: Arc<dyn Disk> = pl.clone();
        let mut f = LogFile::create(&dir.path().join("f"), disk).unwrap();
        pl.arm(2);
        f.append(b"a").unwrap();
        f.sync().unwrap();
        assert!(f.append(b"b").is_err());
        assert!(pl.is_dead());
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn a_faulty_disk_fails_writes_and_cuts_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let faulty = Arc::new(FaultyDisk::default());
        let disk: Arc<dyn Disk> = faulty.clone();
        let mut f = LogFile::create(&dir.path().join("f"), disk).unwrap();
        f.append(b"ok\n").unwrap();
        faulty.set_fail(true);
        let e = f.append(b"no\n").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        faulty.set_fail(false);
        f.append(b"again\n").unwrap();
        f.sync().unwrap();
        assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"ok\nagain\n");
    }
}
