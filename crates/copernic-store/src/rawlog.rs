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
//!
//! Direct writes: on Linux the payloads are written with `O_DIRECT`, from aligned blocks, not
//! through the page cache. A bulk import writes as many payload bytes as it keeps rows, and
//! every buffered byte costs a page-cache page to be found, filled and later written back. On a
//! virtual machine, a page the guest has not touched lately costs the most (on a freshly started
//! machine of this project's kind, the kernel's side of writing was a sixth of an import's CPU;
//! BENCHMARKS.md). Direct writes go in whole 4 KiB blocks, so the file's last,
//! partial block is written again, padded with zeros, with the next flush's bytes after it; the
//! padding is cut off when the log is closed (left there by a crash, it is unreferenced bytes
//! like the rest). A file system that refuses direct I/O (tmpfs) gets buffered writes.

use std::fs::{File, OpenOptions};
use std::io::{IoSlice, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::{Result, StoreError};

/// The payload file inside the data folder.
pub const RAW_FILE: &str = "raw.log";

/// The unit of a direct write: its offset, length and memory address are multiples of it.
const BLOCK: usize = 4096;

/// One aligned block of a direct write.
#[derive(Clone, Copy)]
#[repr(C, align(4096))]
struct Block([u8; BLOCK]);

/// The appending side, used under the store's writer lock.
pub struct RawLog {
    path: PathBuf,
    file: File,
    /// Bytes on disk (written, perhaps not yet synced); where the next flush starts.
    len: u64,
    /// What was appended since the last flush.
    staged: Staged,
}

/// Appended bytes waiting for a flush.
enum Staged {
    /// Written through the page cache at `len`.
    Buffered(Vec<u8>),
    Direct(Direct),
}

/// Appended bytes in aligned blocks, after a copy of the file's last, partial block.
struct Direct {
    /// The same file, opened with `O_DIRECT`.
    file: File,
    /// Grown to the largest flush and kept: a new buffer each time would be fresh pages to fault.
    blocks: Vec<Block>,
    /// Bytes used in `blocks`: the tail's, then the appended ones.
    used: usize,
    /// Bytes of the file's last, partial block at the start of `blocks` (`len % BLOCK`).
    tail: usize,
}

fn folder_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Folder {
        path: path.to_path_buf(),
        source,
    }
}

impl RawLog {
    pub fn open(dir: &Path) -> Result<RawLog> {
        RawLog::open_with(dir, cfg!(target_os = "linux"))
    }

    /// [`RawLog::open`], with direct writes when `direct` and the file system allows them.
    pub fn open_with(dir: &Path, direct: bool) -> Result<RawLog> {
        let path = dir.join(RAW_FILE);
        // Not O_APPEND: every write goes at `len`, which a direct write's padding passes.
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| folder_error(&path, e))?;
        let len = file.metadata().map_err(|e| folder_error(&path, e))?.len();
        let staged = match direct.then(|| Direct::open(&path, &file, len)).flatten() {
            Some(d) => Staged::Direct(d),
            None => Staged::Buffered(Vec::new()),
        };
        Ok(RawLog {
            path,
            file,
            len,
            staged,
        })
    }

    /// Whether flushes write directly.
    #[cfg(test)]
    fn is_direct(&self) -> bool {
        matches!(self.staged, Staged::Direct(_))
    }

    /// Where the next appended payload will start.
    pub fn next_offset(&self) -> u64 {
        self.len + self.pending() as u64
    }

    fn pending(&self) -> usize {
        match &self.staged {
            Staged::Buffered(buf) => buf.len(),
            Staged::Direct(d) => d.used - d.tail,
        }
    }

    pub fn append(&mut self, bytes: &[u8]) {
        match &mut self.staged {
            Staged::Buffered(buf) => buf.extend_from_slice(bytes),
            Staged::Direct(d) => d.append(bytes),
        }
    }

    /// Writes what was appended (and syncs it when `sync`); call before committing the rows
    /// that reference it.
    pub fn flush(&mut self, sync: bool) -> Result<()> {
        let pending = self.pending();
        if pending == 0 {
            return Ok(());
        }
        let written = match &mut self.staged {
            Staged::Buffered(buf) => self.file.write_all_at(buf, self.len),
            Staged::Direct(d) => match d.write(self.len) {
                Ok(()) => Ok(()),
                // The file system takes no direct I/O after all: the same bytes, buffered.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    let written = d.write_buffered(&self.file, self.len);
                    self.staged = Staged::Buffered(Vec::new());
                    written
                }
                Err(e) => Err(e),
            },
        };
        let written = written.and_then(|()| if sync { self.file.sync_data() } else { Ok(()) });
        if let Err(e) = written {
            // Part of the bytes may be on disk: offsets continue after whatever is there, and
            // buffered, so that no partial block has to be known.
            self.len = self.file.metadata().map(|m| m.len()).unwrap_or(self.len);
            self.staged = Staged::Buffered(Vec::new());
            return Err(folder_error(&self.path, e));
        }
        self.len += pending as u64;
        match &mut self.staged {
            Staged::Buffered(buf) => buf.clear(),
            Staged::Direct(d) => d.written(),
        }
        Ok(())
    }

    /// Forgets what was appended since the last flush (the transaction was rolled back).
    pub fn discard(&mut self) {
        match &mut self.staged {
            Staged::Buffered(buf) => buf.clear(),
            Staged::Direct(d) => d.used = d.tail,
        }
    }
}

impl Drop for RawLog {
    fn drop(&mut self) {
        // A direct write's zero padding past the last payload goes; nothing points there.
        if matches!(self.staged, Staged::Direct(_)) {
            let _ = self.file.set_len(self.len);
        }
    }
}

impl Direct {
    /// Direct writes to `path`, whose first `len` bytes `file` holds; `None` where the system or
    /// the file system has none.
    fn open(path: &Path, file: &File, len: u64) -> Option<Direct> {
        let direct = open_direct(path)?;
        let tail = (len % BLOCK as u64) as usize;
        let mut blocks = vec![Block([0; BLOCK])];
        file.read_exact_at(&mut blocks[0].0[..tail], len - tail as u64)
            .ok()?;
        Some(Direct {
            file: direct,
            blocks,
            used: tail,
            tail,
        })
    }

    fn append(&mut self, mut bytes: &[u8]) {
        let needed = (self.used + bytes.len()).div_ceil(BLOCK);
        if needed > self.blocks.len() {
            self.blocks.resize(needed, Block([0; BLOCK]));
        }
        while !bytes.is_empty() {
            let (block, at) = (self.used / BLOCK, self.used % BLOCK);
            let n = (BLOCK - at).min(bytes.len());
            self.blocks[block].0[at..at + n].copy_from_slice(&bytes[..n]);
            self.used += n;
            bytes = &bytes[n..];
        }
    }

    /// Writes the blocks in use where they belong: the tail's block starts at `len - tail`.
    fn write(&mut self, len: u64) -> std::io::Result<()> {
        let start = len - self.tail as u64;
        let mut file = &self.file;
        let blocks = {
            let n = self.used.div_ceil(BLOCK);
            let at = self.used % BLOCK;
            if at != 0 {
                self.blocks[n - 1].0[at..].fill(0);
            }
            &self.blocks[..n]
        };
        let mut slices: Vec<IoSlice<'_>> = blocks.iter().map(|b| IoSlice::new(&b.0)).collect();
        let mut slices = &mut slices[..];
        file.seek(SeekFrom::Start(start))?;
        while !slices.is_empty() {
            match file.write_vectored(slices) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut slices, n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The appended bytes (not the tail, already there), written at `len` through `file`.
    fn write_buffered(&self, file: &File, len: u64) -> std::io::Result<()> {
        let mut at = self.tail;
        let mut offset = len;
        while at < self.used {
            let (block, from) = (at / BLOCK, at % BLOCK);
            let to = BLOCK.min(from + (self.used - at));
            file.write_all_at(&self.blocks[block].0[from..to], offset)?;
            offset += (to - from) as u64;
            at += to - from;
        }
        Ok(())
    }

    /// After a write: the last, partial block becomes the tail of the next one.
    fn written(&mut self) {
        let tail = self.used % BLOCK;
        if tail != 0 {
            self.blocks[0] = self.blocks[self.used / BLOCK];
        }
        self.used = tail;
        self.tail = tail;
    }
}

#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .ok()
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &Path) -> Option<File> {
    None
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends, flushes, discards and reopenings as an import does them, with payloads inside
    /// one block, across blocks and of whole blocks.
    fn exercise(dir: &Path, direct: bool) -> (Vec<u64>, Vec<u8>, bool) {
        let mut offsets = Vec::new();
        let mut used_direct = false;
        let payload = |i: usize| -> Vec<u8> {
            let len = [1, 17, 4095, 4096, 4097, 9000, 0, 300][i % 8];
            (0..len).map(|j| (i * 31 + j) as u8).collect()
        };
        let mut i = 0;
        for session in 0..3 {
            let mut log = RawLog::open_with(dir, direct).unwrap();
            used_direct |= log.is_direct();
            for round in 0..4 {
                for _ in 0..5 + round {
                    offsets.push(log.next_offset());
                    log.append(&payload(i));
                    i += 1;
                }
                if (session + round) % 3 == 2 {
                    // Rolled back: the next payloads take the same offsets.
                    log.discard();
                    offsets.truncate(offsets.len() - (5 + round));
                    i -= 5 + round;
                } else {
                    log.flush(round % 2 == 0).unwrap();
                }
            }
        }
        let bytes = std::fs::read(dir.join(RAW_FILE)).unwrap();
        // Every payload is where its offset says.
        for (n, &off) in offsets.iter().enumerate() {
            let p = payload(n);
            assert_eq!(
                &bytes[off as usize..off as usize + p.len()],
                &p[..],
                "payload {n}"
            );
        }
        (offsets, bytes, used_direct)
    }

    /// Direct writes leave the same file, at the same offsets, as buffered ones: padding is
    /// rewritten by the next flush and cut off at close.
    #[test]
    fn direct_and_buffered_logs_are_the_same_file() {
        let buffered = tempfile::tempdir().unwrap();
        let direct = tempfile::tempdir().unwrap();
        let (b_offsets, b_bytes, b_direct) = exercise(buffered.path(), false);
        let (d_offsets, d_bytes, d_direct) = exercise(direct.path(), true);
        assert!(!b_direct);
        if !d_direct && cfg!(target_os = "linux") {
            eprintln!("this file system takes no direct I/O: only buffered writes were tested");
        }
        assert_eq!(b_offsets, d_offsets);
        assert_eq!(b_bytes.len(), d_bytes.len());
        assert!(b_bytes == d_bytes, "the files differ");
    }

    /// A log closed without its padding cut (a killed process) is appended to after the
    /// padding, and what it held stays where it was.
    #[test]
    fn padding_left_by_a_crash_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = RawLog::open_with(dir.path(), true).unwrap();
        log.append(b"first");
        log.flush(true).unwrap();
        let direct = log.is_direct();
        std::mem::forget(log);
        let on_disk = std::fs::metadata(dir.path().join(RAW_FILE)).unwrap().len();
        assert_eq!(on_disk, if direct { BLOCK as u64 } else { 5 });
        let mut log = RawLog::open_with(dir.path(), true).unwrap();
        assert_eq!(log.next_offset(), on_disk);
        log.append(b"second");
        log.flush(false).unwrap();
        drop(log);
        let reader = RawReader::open(dir.path()).unwrap();
        assert_eq!(reader.read(0, 5).unwrap(), b"first");
        assert_eq!(reader.read(on_disk, 6).unwrap(), b"second");
        assert_eq!(reader.len().unwrap(), on_disk + 6);
    }
}
