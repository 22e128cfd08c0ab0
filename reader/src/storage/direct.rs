//! PUTs to a local folder written with `O_DIRECT`: from an aligned buffer straight to
//! the disk, without a copy into the page cache. Like `LocalFileSystem`, a PUT writes a
//! staging file beside the object (`name#<digits>`, which listings skip) and then links
//! it into place (`PutMode::Create`, failing if the object exists) or renames it
//! (`PutMode::Overwrite`).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use object_store::PutPayload;

/// Alignment `O_DIRECT` asks of buffers, file offsets and lengths (a page covers every
/// logical block size in use).
const ALIGN: usize = 4096;
/// Buffers kept for reuse (a gateway has a few flushes in flight).
const POOLED_BUFFERS: usize = 4;

/// How a direct write went.
#[derive(Debug)]
pub enum Written {
    Done,
    /// The file system refuses `O_DIRECT`; write it another way.
    Unsupported,
    Exists(std::io::Error),
    Failed(std::io::Error),
}

#[derive(Debug, Clone)]
pub struct DirectWrites {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    enabled: AtomicBool,
    staging: AtomicU64,
    buffers: Mutex<Vec<Vec<u8>>>,
}

impl Default for DirectWrites {
    fn default() -> Self {
        DirectWrites {
            inner: Arc::new(Inner {
                enabled: AtomicBool::new(cfg!(target_os = "linux")),
                staging: AtomicU64::new(0),
                buffers: Mutex::default(),
            }),
        }
    }
}

impl DirectWrites {
    /// False once the file system refused `O_DIRECT` (and always off Linux).
    pub fn enabled(&self) -> bool {
        self.inner.enabled.load(Ordering::Relaxed)
    }

    /// Writes `payload` to `path` durably (data and length synced; the caller syncs the
    /// folder). Blocking.
    pub fn write(&self, path: &Path, payload: &PutPayload, create: bool) -> Written {
        if let Some(parent) = path.parent()
            && let Err(error) = std::fs::create_dir_all(parent)
        {
            return Written::Failed(error);
        }
        let staging = self.staging_path(path);
        let file = match open_direct(&staging) {
            Ok(file) => file,
            Err(error) if error.raw_os_error() == Some(libc::EINVAL) => {
                self.inner.enabled.store(false, Ordering::Relaxed);
                return Written::Unsupported;
            }
            Err(error) => return Written::Failed(error),
        };
        let written = self.fill_and_write(file, payload).and_then(|()| {
            if create {
                std::fs::hard_link(&staging, path)
            } else {
                std::fs::rename(&staging, path)
            }
        });
        let outcome = match written {
            Ok(()) => Written::Done,
            // A device that wants larger alignment than ours refuses the write itself.
            Err(error) if error.raw_os_error() == Some(libc::EINVAL) => {
                self.inner.enabled.store(false, Ordering::Relaxed);
                Written::Unsupported
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                Written::Exists(error)
            }
            Err(error) => Written::Failed(error),
        };
        if create || !matches!(outcome, Written::Done) {
            let _ = std::fs::remove_file(&staging);
        }
        outcome
    }

    fn staging_path(&self, path: &Path) -> PathBuf {
        let n = self.inner.staging.fetch_add(1, Ordering::Relaxed);
        let mut name = path.as_os_str().to_owned();
        name.push(format!("#{}{n}", std::process::id()));
        PathBuf::from(name)
    }

    /// Copies the payload into an aligned buffer padded to a whole number of blocks,
    /// writes it, cuts the file to the payload's length and syncs it.
    fn fill_and_write(&self, mut file: File, payload: &PutPayload) -> std::io::Result<()> {
        let len = payload.content_length();
        let padded = len.div_ceil(ALIGN) * ALIGN;
        let mut buffer = self.take_buffer(padded + ALIGN);
        let start = buffer.as_ptr().align_offset(ALIGN);
        let result = (|| {
            let aligned = buffer
                .get_mut(start..start + padded)
                .ok_or_else(|| std::io::Error::other("aligned buffer too small"))?;
            let mut at = 0;
            for part in payload.iter() {
                aligned[at..at + part.len()].copy_from_slice(part);
                at += part.len();
            }
            aligned[at..].fill(0);
            file.write_all(aligned)?;
            file.set_len(len as u64)?;
            file.sync_data()
        })();
        self.give_back(buffer);
        result
    }

    fn take_buffer(&self, capacity: usize) -> Vec<u8> {
        let pooled = self
            .inner
            .buffers
            .lock()
            .ok()
            .and_then(|mut buffers| buffers.pop());
        let mut buffer = pooled.unwrap_or_default();
        if buffer.len() < capacity {
            buffer.resize(capacity, 0);
        }
        buffer
    }

    fn give_back(&self, buffer: Vec<u8>) {
        if let Ok(mut buffers) = self.inner.buffers.lock()
            && buffers.len() < POOLED_BUFFERS
        {
            buffers.push(buffer);
        }
    }
}

#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &Path) -> std::io::Result<File> {
    Err(std::io::Error::from_raw_os_error(libc::EINVAL))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_any_length_and_refuses_to_replace_on_create() {
        let dir = tempfile::tempdir().expect("tempdir");
        let direct = DirectWrites::default();
        for len in [0usize, 1, 4095, 4096, 4097, 3 * 4096 + 17] {
            let path = dir.path().join(format!("a/b/object-{len}"));
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            // Two parts, to check that they are laid end to end.
            let payload = PutPayload::from_iter([
                bytes::Bytes::copy_from_slice(&bytes[..len / 2]),
                bytes::Bytes::copy_from_slice(&bytes[len / 2..]),
            ]);
            match direct.write(&path, &payload, true) {
                Written::Done => {}
                Written::Unsupported => {
                    eprintln!("no O_DIRECT on this file system; nothing to check");
                    return;
                }
                other => panic!("write of {len} bytes: {other:?}"),
            }
            assert_eq!(std::fs::read(&path).expect("read"), bytes, "{len} bytes");
            let again = direct.write(&path, &PutPayload::from_static(b"other"), true);
            assert!(matches!(again, Written::Exists(_)), "{again:?}");
            assert_eq!(std::fs::read(&path).expect("read"), bytes, "unchanged");
            assert!(matches!(
                direct.write(&path, &PutPayload::from_static(b"new"), false),
                Written::Done
            ));
            assert_eq!(std::fs::read(&path).expect("read"), b"new");
        }
        // No staging files are left behind.
        let left: Vec<_> = std::fs::read_dir(dir.path().join("a/b"))
            .expect("list")
            .filter_map(Result::ok)
            .filter(|entry| entry.file_name().to_string_lossy().contains('#'))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
