//! The changelist directory of one collection: listing, adding, removing and publishing change
//! files, with a small thread pool for large directories.

use std::fmt;
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{ChangelistError, Error, Result};
use crate::fsutil;

use super::{CHANGE_FILE_SUFFIX, Change};

/// A change as found on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StagedChange {
    /// Position of the file among all changelist files (sorted by name); the index
    /// [`FileChangelist::remove`] takes.
    pub index: usize,
    /// The file name.
    pub file_name: String,
    /// The parsed change.
    pub change: Change,
}

/// A changelist file that could not be read or parsed (skipped by [`FileChangelist::list`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangelistWarning {
    /// Position of the file among all changelist files.
    pub index: usize,
    /// The file's path.
    pub path: PathBuf,
    /// Why it was skipped.
    pub reason: String,
}

impl fmt::Display for ChangelistWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "skipping unreadable change {}: {}",
            self.path.display(),
            self.reason
        )
    }
}

/// The result of [`FileChangelist::list`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeListing {
    /// Parsed changes in file-name order.
    pub changes: Vec<StagedChange>,
    /// Files that were skipped.
    pub warnings: Vec<ChangelistWarning>,
}

/// The on-disk changelist of one collection (`tuf/<gun>/changelist/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileChangelist {
    dir: PathBuf,
}

impl FileChangelist {
    /// The changelist in `dir` (created on the first [`add`](Self::add)).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Names of every non-directory entry, sorted by byte order. A missing directory is empty.
    fn file_names(&self) -> Result<Vec<String>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("read directory", &self.dir, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("read directory", &self.dir, e))?;
            // Follow symlinks like Go's Readdir does (lstat there, but Go only skips dirs).
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir {
                continue;
            }
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        Ok(names)
    }

    /// Reads and parses one change file into `buffer` (reused between files).
    fn read_into(&self, name: &str, buffer: &mut Vec<u8>) -> std::result::Result<Change, String> {
        buffer.clear();
        fs::File::open(self.dir.join(name))
            .and_then(|mut file| file.read_to_end(buffer))
            .map_err(|e| e.to_string())?;
        Change::from_json(buffer)
    }

    /// Reads and parses every file of `names`, in order; large changelists are read by a few
    /// threads at once.
    fn read_all(&self, names: &[String]) -> Vec<std::result::Result<Change, String>> {
        parallel_chunks(names, cpu_threads(), |chunk| {
            let mut buffer = Vec::with_capacity(4096);
            chunk
                .iter()
                .map(|name| self.read_into(name, &mut buffer))
                .collect::<Vec<_>>()
        })
        .into_iter()
        .flatten()
        .collect()
    }

    /// Every change in order; unparseable files are skipped and reported.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the directory exists but cannot be read.
    pub fn list(&self) -> Result<ChangeListing> {
        let mut listing = ChangeListing::default();
        let names = self.file_names()?;
        let read = self.read_all(&names);
        for (index, (file_name, result)) in names.into_iter().zip(read).enumerate() {
            match result {
                Ok(change) => listing.changes.push(StagedChange {
                    index,
                    file_name,
                    change,
                }),
                Err(reason) => listing.warnings.push(ChangelistWarning {
                    index,
                    path: self.dir.join(&file_name),
                    reason,
                }),
            }
        }
        Ok(listing)
    }

    /// Every change in order, failing on the first file that cannot be parsed (what publish
    /// uses).
    ///
    /// # Errors
    ///
    /// [`ChangelistError::Unreadable`] naming the file, or [`Error::Io`].
    pub fn changes_for_publish(&self) -> Result<Vec<StagedChange>> {
        let names = self.file_names()?;
        let read = self.read_all(&names);
        let mut changes = Vec::with_capacity(names.len());
        for (index, (file_name, result)) in names.into_iter().zip(read).enumerate() {
            let change = result.map_err(|reason| {
                Error::Changelist(ChangelistError::Unreadable {
                    path: self.dir.join(&file_name),
                    reason,
                })
            })?;
            changes.push(StagedChange {
                index,
                file_name,
                change,
            });
        }
        Ok(changes)
    }

    /// Stages `change`: writes a new `%020d_<uuid>.change` file (0600; the directory is created
    /// 0700) and returns its name.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be written.
    pub fn add(&self, change: &Change) -> Result<String> {
        fsutil::create_private_dir(&self.dir)?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!("{nanos:020}_{}{CHANGE_FILE_SUFFIX}", uuid_v4());
        fsutil::write_new_file(&self.dir.join(&name), &change.to_json())?;
        Ok(name)
    }

    /// Removes the changes at `indices` (positions in file-name order, as in
    /// [`StagedChange::index`]). Every index is checked before anything is removed.
    ///
    /// # Errors
    ///
    /// [`ChangelistError::IndexOutOfRange`] for an index past the end (nothing removed), or
    /// [`Error::Io`] when a file cannot be removed.
    pub fn remove(&self, indices: &[usize]) -> Result<Vec<String>> {
        let names = self.file_names()?;
        if let Some(&index) = indices.iter().find(|&&i| i >= names.len()) {
            return Err(Error::Changelist(ChangelistError::IndexOutOfRange {
                index,
                count: names.len(),
            }));
        }
        let mut removed = Vec::new();
        for (index, name) in names.into_iter().enumerate() {
            if indices.contains(&index) {
                fsutil::remove_file_if_exists(&self.dir.join(&name))?;
                removed.push(name);
            }
        }
        Ok(removed)
    }

    /// Removes every file in the changelist directory (the directory stays), and whatever a
    /// publish that was interrupted left set aside.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when a file cannot be removed.
    pub fn clear(&self) -> Result<()> {
        let names = self.file_names()?;
        remove_names(&self.dir, &names)?;
        self.remove_leftover_asides()
    }

    /// Removes the files named in `file_names`, the changes a publish just uploaded; changes
    /// staged meanwhile (any other file) stay.
    ///
    /// When the directory holds exactly those files, it is first renamed aside in one step (to
    /// a sibling `changelist.published-<uuid>` directory, which neither signet nor Go notary
    /// reads as changes) and recreated empty, so an interrupted removal never leaves part of
    /// the published changes staged; the set-aside files are then removed by several threads.
    /// A file that still appears in the set-aside directory without being one of `file_names`
    /// (staged while the rename happened) is moved back. Otherwise the named files are removed
    /// one by one. Directories left aside by an interrupted earlier removal are removed too.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when a file cannot be removed or the directory cannot be renamed back.
    pub fn remove_files(&self, file_names: &[String]) -> Result<()> {
        let mut published: Vec<&str> = file_names
            .iter()
            .map(String::as_str)
            .filter(|name| is_plain_name(name))
            .collect();
        published.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        published.dedup();
        if !published.is_empty()
            && self.holds_exactly(&published)?
            && let Some(aside) = self.set_aside()?
        {
            self.restore_strays(&aside, &published)?;
            remove_names(&aside, &published)?;
            self.finish_aside(&aside, &published)?;
            return self.remove_leftover_asides();
        }
        remove_names(&self.dir, &published)?;
        self.remove_leftover_asides()
    }

    /// Whether the directory's entries are exactly `published` (sorted), and nothing else (no
    /// subdirectory either: the rename would carry it away).
    pub(super) fn holds_exactly(&self, published: &[&str]) -> Result<bool> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::io("read directory", &self.dir, e)),
        };
        let mut names = Vec::with_capacity(published.len());
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("read directory", &self.dir, e))?;
            match entry.file_name().into_string() {
                Ok(name) => names.push(name),
                Err(_) => return Ok(false),
            }
        }
        if names.len() != published.len() {
            return Ok(false);
        }
        names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        Ok(names.iter().zip(published).all(|(a, b)| a == b))
    }

    /// Renames the directory to a fresh aside path and recreates it empty; `None` (nothing
    /// changed) when it is a symlink or cannot be renamed.
    pub(super) fn set_aside(&self) -> Result<Option<PathBuf>> {
        let (Some(parent), Some(base)) = (self.dir.parent(), self.dir.file_name()) else {
            return Ok(None);
        };
        if !fs::symlink_metadata(&self.dir).is_ok_and(|m| m.is_dir()) {
            return Ok(None);
        }
        let aside = parent.join(format!(
            "{}{ASIDE_MARKER}{}",
            base.to_string_lossy(),
            uuid_v4()
        ));
        if fs::rename(&self.dir, &aside).is_err() {
            return Ok(None);
        }
        if let Err(e) = fsutil::create_private_dir(&self.dir) {
            // Put everything back rather than lose staged changes.
            let _ = fs::rename(&aside, &self.dir);
            return Err(e.into());
        }
        Ok(Some(aside))
    }

    /// Moves every entry of `aside` that is not in `published` back into the changelist.
    pub(super) fn restore_strays(&self, aside: &Path, published: &[&str]) -> Result<()> {
        let entries = match fs::read_dir(aside) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("read directory", aside, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("read directory", aside, e))?;
            let name = entry.file_name();
            let known = name.to_str().is_some_and(|n| {
                published
                    .binary_search_by(|p| p.as_bytes().cmp(n.as_bytes()))
                    .is_ok()
            });
            if !known {
                let to = self.dir.join(&name);
                fs::rename(entry.path(), &to).map_err(|e| Error::io("rename", &to, e))?;
            }
        }
        Ok(())
    }

    /// Removes the emptied `aside` directory, moving back anything staged into it late.
    pub(super) fn finish_aside(&self, aside: &Path, published: &[&str]) -> Result<()> {
        for _ in 0..FINISH_ATTEMPTS {
            match fs::remove_dir(aside) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(_) => self.restore_strays(aside, published)?,
            }
        }
        fs::remove_dir(aside).map_err(|e| Error::io("remove directory", aside, e))
    }

    /// Removes the directories an interrupted publish left aside (they hold only changes that
    /// were published).
    fn remove_leftover_asides(&self) -> Result<()> {
        let (Some(parent), Some(base)) = (self.dir.parent(), self.dir.file_name()) else {
            return Ok(());
        };
        let prefix = format!("{}{ASIDE_MARKER}", base.to_string_lossy());
        let entries = match fs::read_dir(parent) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("read directory", parent, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("read directory", parent, e))?;
            let is_aside = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix));
            if is_aside && entry.file_type().is_ok_and(|t| t.is_dir()) {
                let aside = entry.path();
                let names = dir_entry_names(&aside)?;
                remove_names(&aside, &names)?;
                fsutil::remove_dir_all_if_exists(&aside)?;
            }
        }
        Ok(())
    }
}

/// Marker between the changelist directory's name and a uuid in the name of a directory set
/// aside by [`FileChangelist::remove_files`].
pub(super) const ASIDE_MARKER: &str = ".published-";
/// Attempts at removing a set-aside directory that keeps receiving late changes.
const FINISH_ATTEMPTS: usize = 8;

/// Whether `name` is a single path component (not `.`, `..`, nor containing a separator).
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != ".."
}

/// Names of every entry of `dir` (a missing directory has none).
fn dir_entry_names(dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read directory", dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read directory", dir, e))?;
        if entry.file_type().is_ok_and(|t| !t.is_dir()) {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort_unstable();
    Ok(names)
}

/// Removes the files `names` of `dir`, several threads at once for many files: most of an
/// unlink's cost (freeing the inode and its blocks, waiting for the disk when the filesystem
/// discards freed blocks) is paid outside the directory's lock, and much of it is waiting, not
/// CPU.
pub(super) fn remove_names<S: AsRef<str> + Sync>(dir: &Path, names: &[S]) -> Result<()> {
    parallel_chunks(names, UNLINK_THREADS, |chunk| {
        for name in chunk {
            let name = name.as_ref();
            if is_plain_name(name) {
                fsutil::remove_file_if_exists(&dir.join(name))?;
            }
        }
        Ok(())
    })
    .into_iter()
    .collect()
}

/// Below this many files a changelist is handled on the calling thread.
pub(super) const PARALLEL_MIN_FILES: usize = 512;
/// At most this many threads read changelist files (CPU-bound: parsing).
const MAX_READ_THREADS: usize = 4;
/// Threads that remove changelist files (bound by the filesystem, not the CPU).
const UNLINK_THREADS: usize = 8;

/// The threads to use for CPU-bound work: one per CPU, at most [`MAX_READ_THREADS`].
fn cpu_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(MAX_READ_THREADS)
}

/// Runs `work` over consecutive chunks of `items`, on up to `threads` scoped threads when there
/// are many items; the results come back in chunk order.
fn parallel_chunks<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    work: impl Fn(&[T]) -> R + Sync,
) -> Vec<R> {
    if threads < 2 || items.len() < PARALLEL_MIN_FILES {
        return vec![work(items)];
    }
    let chunk = items.len().div_ceil(threads);
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || work(part)))
            .collect();
        handles
            .into_iter()
            .map(|handle| match handle.join() {
                Ok(result) => result,
                // A panic in `work` is a bug; pass it on unchanged.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

/// A random (version 4) UUID, lowercase and hyphenated.
fn uuid_v4() -> String {
    let mut b: [u8; 16] = fsutil::random_bytes();
    b[6] = (b[6] & 0x0F) | 0x40;
    b[8] = (b[8] & 0x3F) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
