//! Shared bits of the integration tests.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A private directory under /dev/shm for one test's channels, removed
/// on drop, also when the test panics (tests/run.sh fails a run that
/// leaves one of its /dev/shm/mmsync-test-$MMSYNC_TEST_RUN-* behind).
pub struct TestDir {
    path: PathBuf,
}

impl TestDir {
    pub fn new(test: &str) -> TestDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let run = std::env::var("MMSYNC_TEST_RUN")
            .map(|r| format!("{r}-"))
            .unwrap_or_default();
        let path = base.join(format!(
            "mmsync-test-{}rs-{}-{}-{}",
            run,
            test,
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TestDir { path }
    }

    /// A channel name with '/', so that $MMSYNC_DIR plays no part.
    pub fn chan(&self, name: &str) -> String {
        self.path.join(name).to_str().unwrap().to_string()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Passes the test while saying why it did not run. With
/// MMSYNC_RS_SKIPS set (rust/tap.sh sets it), the reason is also
/// appended to that file, so that the TAP report marks the test SKIP.
pub fn skip(test: &str, reason: &str) {
    eprintln!("SKIP {test}: {reason}");
    if let Some(path) = std::env::var_os("MMSYNC_RS_SKIPS") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{test}\t{reason}");
        }
    }
}

/// Payload of generation `gen`: every byte depends on the generation and
/// its offset, so a torn or misplaced read shows.
pub fn pattern(gen: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| pattern_byte(gen, i)).collect()
}

pub fn pattern_byte(gen: u64, i: usize) -> u8 {
    (gen.wrapping_mul(131).wrapping_add(i as u64 * 7) ^ (i as u64 >> 8)) as u8
}

/// Index of the first byte that is not generation `gen`'s pattern.
pub fn pattern_mismatch(gen: u64, bytes: &[u8]) -> Option<usize> {
    bytes
        .iter()
        .enumerate()
        .position(|(i, &b)| b != pattern_byte(gen, i))
}
