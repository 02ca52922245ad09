//! Rust against C, in other processes: a C writer (tests/c/peer.c, built
//! here against the same library) read by the Rust reader, and the Rust
//! writer read by a C reader that uses the header's inline read path and
//! verifies XXH3 checksums; once each way one by one, once concurrently.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use common::{pattern, pattern_mismatch, TestDir};
use mmsync::{Reader, ReaderOptions, Writer, WriterOptions};

/// Builds tests/c/peer.c once per test run.
fn peer() -> &'static PathBuf {
    static PEER: OnceLock<PathBuf> = OnceLock::new();
    PEER.get_or_init(|| {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mmsync-peer");
        let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
        let st = Command::new(cc)
            .args(["-std=gnu11", "-O2", "-Wall", "-Werror", "-I"])
            .arg(env!("MMSYNC_RS_INCLUDE_DIR"))
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/c/peer.c"))
            .args(env!("MMSYNC_RS_C_LINK").split_whitespace())
            .arg("-o")
            .arg(&out)
            .status()
            .expect("running the C compiler");
        assert!(st.success(), "building tests/c/peer.c failed");
        out
    })
}

fn run_peer(args: &[&str]) -> String {
    let out = Command::new(peer()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "peer {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn spawn_peer(args: &[&str]) -> Child {
    Command::new(peer())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn numbers(line: &str) -> Vec<u64> {
    line.split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect()
}

#[test]
fn c_writer_rust_reader() {
    let d = TestDir::new("c_writer");
    let name = d.chan("c");
    let out = numbers(&run_peer(&["write", &name, "3", "5000"]));
    assert_eq!(out[0], 3);
    let mut r = Reader::open(&name, ReaderOptions::new().verify(true)).unwrap();
    let v = r.read().unwrap();
    assert_eq!((v.generation(), v.len()), (3, 5000));
    assert_eq!(v.checksum(), out[1]);
    assert_eq!(pattern_mismatch(3, &v), None);
    v.finish().unwrap();

    // A second C writer continues the generations; wait() sees it.
    let out = numbers(&run_peer(&["write", &name, "1", "10"]));
    assert_eq!(out[0], 4);
    assert!(r.wait(3, std::time::Duration::ZERO).unwrap());
    assert_eq!(&r.read().unwrap()[..], &pattern(4, 10)[..]);
}

#[test]
fn rust_writer_c_reader() {
    let d = TestDir::new("rust_writer");
    let name = d.chan("c");
    let mut w = Writer::open(&name, WriterOptions::new()).unwrap();
    w.publish(&pattern(1, 100)).unwrap();
    let info = w.publish_info(&pattern(2, 12345)).unwrap();
    let out = numbers(&run_peer(&["read", &name, "12345"]));
    assert_eq!(out, [2, 12345, info.checksum]);
    // Reserve/commit is seen the same way.
    let mut res = w.reserve(777).unwrap();
    res.copy_from_slice(&pattern(3, 777));
    let info = res.commit_info(777).unwrap();
    assert_eq!(
        numbers(&run_peer(&["read", &name, "777"])),
        [3, 777, info.checksum]
    );
}

#[test]
fn rust_reads_while_c_writes() {
    let d = TestDir::new("c_concurrent");
    let name = d.chan("c");
    // Create the channel first so that the reader can open it.
    run_peer(&["write", &name, "1", "4096"]);
    let mut r = Reader::open(&name, ReaderOptions::new()).unwrap();
    let mut child = spawn_peer(&["write", &name, "20000", "4096"]);
    let (mut reads, mut last, mut gens) = (0u64, 0, 0u64);
    loop {
        let done = child.try_wait().unwrap().is_some();
        let v = r.read().unwrap();
        let g = v.generation();
        assert!(g >= last, "generation went back: {last} -> {g}");
        let torn = v.len() != 4096 || pattern_mismatch(g, &v).is_some();
        // An evicted view (a reader descheduled for over the 1 s grace
        // period) may legitimately be torn; finish() says so.
        if v.finish().is_err() {
            continue;
        }
        assert!(!torn, "torn read of generation {g}");
        gens += u64::from(g != last);
        last = g;
        reads += 1;
        if done {
            break;
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(last, 20001);
    assert!(
        reads > 100 && gens > 1,
        "{reads} reads of {gens} generations"
    );
}

#[test]
fn c_reads_while_rust_writes() {
    let d = TestDir::new("rust_concurrent");
    let name = d.chan("c");
    let mut w = Writer::open(&name, WriterOptions::new()).unwrap();
    w.publish(&pattern(1, 4096)).unwrap();
    let mut child = spawn_peer(&["readloop", &name, "200000", "4096"]);
    let mut buf = vec![0u8; 4096];
    while child.try_wait().unwrap().is_none() {
        let gen = w.generation() + 1;
        for (i, b) in buf.iter_mut().enumerate() {
            *b = common::pattern_byte(gen, i);
        }
        assert_eq!(w.publish(&buf).unwrap(), gen);
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let n = numbers(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(n[0], 200000);
    assert!(w.generation() > 1);
}
