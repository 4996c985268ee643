//! Raw payloads in an append-only file beside the database.
//!
//! Why not a BLOB column: every message keeps the bytes it arrived as, which doubles what an
//! import writes, and SQLite writes it twice more (WAL, then checkpoint) inside the b-tree. The
//! sqlite3 shell alone took 3.8× the plain `.import` floor to store rows with their raw payload
//! and a unique id (BENCHMARKS.md). Appended to a plain file, the payload costs one sequential
//! write; the row keeps its offset and length.
//!
//! Consistency: bytes are appended before the transaction that references them commits (and
//! synced first when commits are synced), so a committed row always finds its payload. A crash
//! between the two leaves unreferenced bytes at the end of the file, which are harmless: the next
//! append goes after them.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::{Result, StoreError};

/// The payload file inside the data folder.
pub const RAW_FILE: &str = "raw.log";

/// The appending side, used under the store's writer lock.
pub struct RawLog {
    path: PathBuf,
    file: File,
    /// Bytes on disk (written, perhaps not yet synced).
    len: u64,
    /// Bytes appended since the last flush.
    buf: Vec<u8>,
}

fn folder_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Folder {
        path: path.to_path_buf(),
        source,
    }
}

impl RawLog {
    pub fn open(dir: &Path) -> Result<RawLog> {
        let path = dir.join(RAW_FILE);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| folder_error(&path, e))?;
        let len = file.metadata().map_err(|e| folder_error(&path, e))?.len();
        Ok(RawLog {
            path,
            file,
            len,
            buf: Vec::new(),
        })
    }

    /// Where the next appended payload will start.
    pub fn next_offset(&self) -> u64 {
        self.len + self.buf.len() as u64
    }

    pub fn append(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Writes what was appended (and syncs it when `sync`); call before committing the rows
    /// that reference it.
    pub fn flush(&mut self, sync: bool) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let written = self.file.write_all(&self.buf).and_then(|()| {
            if sync {
                self.file.sync_data()
            } else {
                Ok(())
            }
        });
        if let Err(e) = written {
            // Part of the buffer may be on disk: offsets continue after whatever is there.
            self.len = self.file.metadata().map(|m| m.len()).unwrap_or(self.len);
            self.buf.clear();
            return Err(folder_error(&self.path, e));
        }
        self.len += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Forgets what was appended since the last flush (the transaction was rolled back).
    pub fn discard(&mut self) {
        self.buf.clear();
    }
}

/// The reading side: positional reads, safe from any thread.
pub struct RawReader {
    path: PathBuf,
    file: File,
}

impl RawReader {
    pub fn open(dir: &Path) -> Result<RawReader> {
        let path = dir.join(RAW_FILE);
        let file = File::open(&path).map_err(|e| folder_error(&path, e))?;
        Ok(RawReader { path, file })
    }

    /// The file's length now.
    pub fn len(&self) -> Result<u64> {
        Ok(self
            .file
            .metadata()
            .map_err(|e| folder_error(&self.path, e))?
            .len())
    }

    pub fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let mut out = vec![0u8; len];
        self.file
            .read_exact_at(&mut out, offset)
            .map_err(|e| folder_error(&self.path, e))?;
        Ok(out)
    }
}
