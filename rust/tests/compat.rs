//! mmsync::compat::Synchronizer: mmap-sync 2.x's API and README example
//! shape on libmmsync, and each documented difference.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use bytecheck::CheckBytes;
use common::TestDir;
use mmsync::compat::synchronizer::{Synchronizer, SynchronizerError};
use mmsync::compat::{instance::InstanceVersion, ReadResult};
use rkyv::{Archive, Deserialize, Serialize};

/// The struct of mmap-sync's README examples.
#[derive(Archive, Deserialize, Serialize, Debug, PartialEq)]
#[archive_attr(derive(CheckBytes))]
pub struct HelloWorld {
    pub version: u32,
    pub messages: Vec<String>,
}

fn hello(version: u32) -> HelloWorld {
    HelloWorld {
        version,
        messages: vec!["Hello".to_string(), "World".to_string(), "!".to_string()],
    }
}

fn prefix(d: &TestDir) -> String {
    d.chan("hello_world")
}

#[test]
fn readme_writer_and_reader() {
    let d = TestDir::new("compat_readme");
    let path = prefix(&d);

    // The writer example.
    let mut synchronizer = Synchronizer::new(path.as_ref());
    let data = hello(7);
    let (written, reset) = synchronizer
        .write(&data, Duration::from_secs(1))
        .expect("failed to write data");
    assert!(written > 0);
    assert!(!reset);

    // The reader example, in another Synchronizer.
    let mut synchronizer = Synchronizer::new(path.as_ref());
    let data = unsafe { synchronizer.read::<HelloWorld>(false) }.expect("failed to read data");
    assert_eq!(data.version, 7);
    let messages: Vec<&str> = data.messages.iter().map(|m| m.as_str()).collect();
    assert_eq!(messages, ["Hello", "World", "!"]);
    assert_eq!(format!("{:?}", data.messages), r#"["Hello", "World", "!"]"#);

    // The files mmap-sync's README lists.
    for f in ["_state", "_data_0", "_data_1"] {
        assert!(PathBuf::from(format!("{path}{f}")).exists(), "{f}");
    }
}

#[test]
fn read_before_any_writer_fails_like_mmap_sync() {
    let d = TestDir::new("compat_nowriter");
    let mut reader = Synchronizer::new(prefix(&d).as_ref());
    let res = unsafe { reader.read::<HelloWorld>(false) };
    let err = res.err().unwrap();
    // mmap-sync's own test asserts exactly this message.
    assert_eq!(
        err.to_string(),
        "error reading state file: No such file or directory (os error 2)"
    );
    assert!(matches!(
        reader.version(),
        Err(SynchronizerError::FailedStateRead(_))
    ));
    assert!(!PathBuf::from(format!("{}_state", prefix(&d))).exists());
}

#[test]
fn nothing_written_yet_is_uninitialized_state() {
    let d = TestDir::new("compat_uninit");
    // A libmmsync writer that has not published yet.
    let _w = mmsync::Writer::open(prefix(&d), Default::default()).unwrap();
    let mut reader = Synchronizer::new(prefix(&d).as_ref());
    let res = unsafe { reader.read::<HelloWorld>(true) }.err();
    assert!(matches!(res, Some(SynchronizerError::UninitializedState)));
    assert!(matches!(
        reader.version(),
        Err(SynchronizerError::UninitializedState)
    ));
}

#[test]
fn versions_and_switches() {
    let d = TestDir::new("compat_version");
    let mut writer = Synchronizer::new(prefix(&d).as_ref());
    let mut reader = Synchronizer::new(prefix(&d).as_ref());
    writer.write(&hello(1), Duration::from_secs(1)).unwrap();
    let v1 = reader.version().unwrap();
    assert_eq!(v1, writer.version().unwrap());
    assert_eq!((v1.generation(), u64::from(v1)), (1, 1));
    assert_eq!(InstanceVersion::try_from(1).unwrap(), v1);
    assert!(matches!(
        InstanceVersion::try_from(0),
        Err(SynchronizerError::UninitializedState)
    ));

    let check = |r: &ReadResult<'_, HelloWorld>, version: u32, switched: bool| {
        assert_eq!(r.version, version);
        assert_eq!(r.is_switched(), switched);
    };
    check(
        &unsafe { reader.read::<HelloWorld>(true) }.unwrap(),
        1,
        true,
    );
    check(
        &unsafe { reader.read::<HelloWorld>(false) }.unwrap(),
        1,
        false,
    );
    assert_eq!(reader.version().unwrap(), v1);

    writer.write(&hello(2), Duration::from_secs(1)).unwrap();
    let v2 = reader.version().unwrap();
    assert!(v2 > v1);
    check(
        &unsafe { reader.read::<HelloWorld>(true) }.unwrap(),
        2,
        true,
    );
    // Two writes without a read in between land in the same data file
    // index in mmap-sync; here it is simply a new generation.
    writer.write(&hello(3), Duration::from_secs(1)).unwrap();
    writer.write(&hello(4), Duration::from_secs(1)).unwrap();
    let r = unsafe { reader.read::<HelloWorld>(true) }.unwrap();
    check(&r, 4, true);
    assert_eq!(r.generation(), 4);
    assert_ne!(r.checksum(), 0);
    r.finish().unwrap();
}

#[test]
fn bad_bytes_are_refused() {
    let d = TestDir::new("compat_bad");
    let mut writer = Synchronizer::new(prefix(&d).as_ref());
    let mut reader = Synchronizer::new(prefix(&d).as_ref());
    // Bytes that are no archive: bytecheck refuses them.
    let junk = [0xffu8; 64];
    writer
        .write_raw::<HelloWorld>(&junk, Duration::from_secs(1))
        .unwrap();
    let res = unsafe { reader.read::<HelloWorld>(true) }.err();
    assert!(matches!(res, Some(SynchronizerError::FailedEntityRead)));
    // Too short for the archived root: refused even unchecked.
    writer
        .write_raw::<HelloWorld>(&[1, 2], Duration::from_secs(1))
        .unwrap();
    let res = unsafe { reader.read::<HelloWorld>(false) }.err();
    assert!(matches!(res, Some(SynchronizerError::FailedEntityRead)));
    // write_raw of a real archive reads back.
    let bytes = rkyv::to_bytes::<_, 1024>(&hello(9)).unwrap();
    writer
        .write_raw::<HelloWorld>(&bytes, Duration::from_secs(1))
        .unwrap();
    assert_eq!(
        unsafe { reader.read::<HelloWorld>(true) }.unwrap().version,
        9
    );
}

#[test]
fn a_slow_reader_is_told_it_is_stale() {
    let d = TestDir::new("compat_stale");
    let grace = Duration::from_millis(20);
    let mut writer = Synchronizer::new(prefix(&d).as_ref());
    let mut reader = Synchronizer::new(prefix(&d).as_ref());
    writer.write(&hello(1), grace).unwrap();
    let slow = unsafe { reader.read::<HelloWorld>(true) }.unwrap();
    assert_eq!(slow.version, 1);
    // Generation 2 goes to the other copy; 3 reuses ours after the grace.
    assert!(!writer.write(&hello(2), grace).unwrap().1);
    let (_, reset) = writer.write(&hello(3), grace).unwrap();
    assert!(reset, "the slow reader was evicted");
    let err = slow.finish().unwrap_err();
    assert!(err.is_stale());
    assert!(matches!(err, SynchronizerError::FailedDataRead(_)));
    assert!(err.to_string().starts_with("error reading data file: "));
    assert_eq!(
        unsafe { reader.read::<HelloWorld>(true) }.unwrap().version,
        3
    );
}

#[test]
fn one_writer_at_a_time() {
    let d = TestDir::new("compat_lock");
    let mut first = Synchronizer::new(prefix(&d).as_ref());
    let mut second = Synchronizer::new(prefix(&d).as_ref());
    first.write(&hello(1), Duration::from_secs(1)).unwrap();
    let res = second.write(&hello(2), Duration::from_secs(1));
    assert!(matches!(res, Err(SynchronizerError::WriteLockConflict)));
    assert_eq!(
        SynchronizerError::WriteLockConflict.to_string(),
        "write blocked by conflicting lock"
    );
    drop(first);
    second.write(&hello(2), Duration::from_secs(1)).unwrap();
    assert_eq!(second.version().unwrap().generation(), 2);
}

#[test]
fn a_new_grace_period_reopens_the_writer() {
    let d = TestDir::new("compat_grace");
    let mut writer = Synchronizer::new(prefix(&d).as_ref());
    let mut reader = Synchronizer::new(prefix(&d).as_ref());
    writer.write(&hello(1), Duration::from_secs(5)).unwrap();
    let slow = unsafe { reader.read::<HelloWorld>(false) }.unwrap();
    writer.write(&hello(2), Duration::from_secs(5)).unwrap();
    // Had the 5 s grace stayed, this write would wait 5 s.
    let t = std::time::Instant::now();
    let (_, reset) = writer.write(&hello(3), Duration::ZERO).unwrap();
    assert!(
        reset && t.elapsed() < Duration::from_secs(2),
        "{:?}",
        t.elapsed()
    );
    assert!(slow.finish().unwrap_err().is_stale());
    assert_eq!(writer.version().unwrap().generation(), 3);
}

#[test]
fn files_of_another_format_are_refused() {
    let d = TestDir::new("compat_foreign");
    let path = prefix(&d);
    // What an mmap-sync writer leaves: a 16-byte state file.
    std::fs::write(format!("{path}_state"), [1u8; 16]).unwrap();
    let mut writer = Synchronizer::new(path.as_ref());
    match writer.write(&hello(1), Duration::from_secs(1)) {
        Err(SynchronizerError::FailedStateRead(e)) => assert_eq!(e.raw_os_error(), Some(74)),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(format!("{path}_state")).unwrap(), [1u8; 16]);
}

#[test]
fn a_prefix_without_slash_is_relative_to_the_current_directory() {
    // chdir is process-wide: run the check in a child of this binary.
    let d = TestDir::new("compat_relative");
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "relative_child", "--test-threads=1"])
        .current_dir(d.path())
        .env("MMSYNC_RS_CHILD", "1")
        .env("MMSYNC_DIR", "/nonexistent")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
    assert!(d.path().join("rel_state").exists());
}

/// The child of a_prefix_without_slash_is_relative_to_the_current_directory.
#[test]
fn relative_child() {
    if std::env::var_os("MMSYNC_RS_CHILD").is_none() {
        return;
    }
    let mut s = Synchronizer::new("rel".as_ref());
    s.write(&hello(1), Duration::from_secs(1)).unwrap();
    assert_eq!(unsafe { s.read::<HelloWorld>(true) }.unwrap().version, 1);
}

/// target/<profile>/examples/, next to this test's deps/ directory.
fn example(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join("examples").join(name);
    p.exists().then_some(p)
}

#[test]
fn the_compat_examples_run() {
    let (Some(w), Some(r)) = (example("compat_writer"), example("compat_reader")) else {
        return common::skip(
            "the_compat_examples_run",
            "examples not built (cargo test --test compat alone builds none)",
        );
    };
    let d = TestDir::new("compat_examples");
    let path = prefix(&d);
    let out = Command::new(w).arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("written: ") && text.ends_with(" bytes | reset: false\n"),
        "{text}"
    );
    let out = Command::new(r).arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "version: 7 | messages: [\"Hello\", \"World\", \"!\"]\n"
    );
}

#[test]
fn the_compat_examples_name_mmsync_only_in_their_use_line() {
    for src in [
        include_str!("../examples/compat_writer.rs"),
        include_str!("../examples/compat_reader.rs"),
        include_str!("../examples/common/mod.rs"),
    ] {
        let code: Vec<&str> = src
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .filter(|l| l.contains("mmsync"))
            .collect();
        assert!(
            code.is_empty() || code == ["use mmsync::compat::synchronizer::Synchronizer;"],
            "{code:?}"
        );
    }
}
