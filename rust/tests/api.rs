//! The safe API against the library: round trips, views, eviction,
//! waiting, reservations, publish_fd and the errors of the contract.

mod common;

use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::{pattern, pattern_mismatch, skip, TestDir};
use mmsync::{GracePolicy, Reader, ReaderOptions, Stale, Writer, WriterOptions};

const ESTALE: i32 = 116;
const ENODATA: i32 = 61;
const EBADMSG: i32 = 74;
const EINVAL: i32 = 22;
const EBUSY: i32 = 16;
const ENOENT: i32 = 2;
const ENAMETOOLONG: i32 = 36;
const ETIMEDOUT: i32 = 110;
/// What mmsync_reader_fd() answers where notification is not available
/// (EOPNOTSUPP) or the kernel's inotify limits are reached (EMFILE, ENOSPC).
const NO_NOTIFY: [i32; 3] = [95, 24, 28];

fn errno<T: std::fmt::Debug>(r: io::Result<T>) -> i32 {
    r.expect_err("expected an error")
        .raw_os_error()
        .expect("an errno")
}

#[test]
fn round_trip() {
    let d = TestDir::new("round_trip");
    let name = d.chan("c");
    let mut w = Writer::open(&name, WriterOptions::new()).unwrap();
    assert_eq!(w.generation(), 0);
    let info = w.publish_info(b"hello").unwrap();
    assert_eq!((info.gen, info.size), (1, 5));
    let mut r = Reader::open(&name, ReaderOptions::new()).unwrap();
    assert_eq!(r.generation(), 1);
    {
        let v = r.read().unwrap();
        assert_eq!(&v[..], b"hello");
        assert_eq!(v.as_bytes(), b"hello");
        assert_eq!(v.generation(), 1);
        assert_eq!(v.checksum(), info.checksum);
        assert_ne!(v.checksum(), 0);
        v.finish().unwrap();
    }
    assert_eq!(w.publish(b"world!").unwrap(), 2);
    assert_eq!(w.generation(), 2);
    let v = r.read().unwrap();
    assert_eq!((&v[..], v.generation()), (&b"world!"[..], 2));
}

#[test]
fn empty_and_growing_payloads() {
    let d = TestDir::new("sizes");
    let name = d.chan("c");
    let mut w = Writer::open(&name, WriterOptions::new()).unwrap();
    let mut r = Reader::open(&name, ReaderOptions::new().verify(true)).unwrap();
    for (i, len) in [0usize, 1, 4095, 4096, 1 << 20, 8 << 20, 100, 0]
        .into_iter()
        .enumerate()
    {
        let gen = i as u64 + 1;
        assert_eq!(w.publish(&pattern(gen, len)).unwrap(), gen);
        let v = r.read().unwrap();
        assert_eq!((v.generation(), v.len()), (gen, len));
        assert_eq!(
            pattern_mismatch(gen, &v),
            None,
            "generation {gen}, {len} bytes"
        );
        v.finish().unwrap();
    }
}

#[test]
fn dropping_a_view_ends_it() {
    let d = TestDir::new("drop");
    let name = d.chan("c");
    let grace = Duration::from_secs(10);
    let mut w = Writer::open(&name, WriterOptions::new().grace(grace)).unwrap();
    w.publish(b"x").unwrap();
    let mut r = Reader::open(&name, ReaderOptions::new()).unwrap();
    for _ in 0..3 {
        let v = r.read().unwrap();
        assert_eq!(&v[..], b"x");
        drop(v);
    }
    // Had the drop not ended the view, the writer would now wait its
    // grace period for our pin on slot 1 (generation 3 reuses it).
    w.publish(b"y").unwrap();
    let t = Instant::now();
    let info = w.publish_info(b"z").unwrap();
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!((info.evicted, info.gen), (0, 3));
}

#[test]
fn view_bytes_stay_while_the_writer_publishes_elsewhere() {
    let d = TestDir::new("stable");
    let name = d.chan("c");
    let mut w = Writer::open(&name, WriterOptions::new()).unwrap();
    w.publish(&pattern(1, 10000)).unwrap();
    let mut r = Reader::open(&name, ReaderOptions::new()).unwrap();
    let v = r.read().unwrap();
    // Generation 2 lives in the other slot: no wait, no eviction.
    let info = w.publish_info(&pattern(2, 10000)).unwrap();
    assert_eq!(info.evicted, 0);
    assert_eq!(pattern_mismatch(1, &v), None);
    assert_eq!(v.generation(), 1);
    v.finish().unwrap();
    assert_eq!(r.read().unwrap().generation(), 2);
}

#[test]
fn eviction_makes_finish_stale() {
    let d = TestDir::new("stale");
    let name = d.chan("c");
    let grace = Duration::from_millis(30);
    let mut w = Writer::open(&name, WriterOptions::new().grace(grace)).unwrap();
    w.publish(&pattern(1, 64)).unwrap();
    let mut r = Reader::open(&name, ReaderOptions::new()).unwrap();
    let v = r.read().unwrap();
    w.publish(&pattern(2, 64)).unwrap();
    // Generation 3 reuses the slot our view pins: the writer waits out
    // the grace period, evicts us, and rewrites the bytes.
    let t = Instant::now();
    let info = w.publish_info(&pattern(3, 64)).unwrap();
    assert!(t.elapsed() >= grace, "{:?}", t.elapsed());
    assert_eq!(info.evicted, 1);
    assert!(info.waited >= grace);
    let stale: Stale = v.finish().unwrap_err();
    assert_eq!(stale.generation(), 1);
    assert!(stale.to_string().contains("evicted"));
    let e: io::Error = stale.into();
    assert_eq!(e.raw_os_error(), Some(ESTALE));
    // The reader reads on: the next view is generation 3 and clean.
    let v = r.read().unwrap();
    assert_eq!((v.generation(), pattern_mismatch(3, &v)), (3, None));
    v.finish().unwrap();
}

#[test]
fn dropped_stale_view_is_ended_too() {
    let d = TestDir::new("stale_drop");
    let name = d.chan("c");
    let mut w = Writer::open(&name, WriterOptions::new().grace(Duration::from_millis(10))).unwrap();
    w.publish(b"1").unwrap();
    let mut r = Reader::open(&name, ReaderOptions::new()).unwrap();
    let v = r.read().unwrap();
    w.publish(b"2").unwrap();
    assert_eq!(w.publish_info(b"3").unwrap().evicted, 1);
    drop(v);
    assert_eq!(&r.read().unwrap()[..], b"3");
}

#[test]
fn refuse_policy_times_out_and_changes_nothing() {
    let d = TestDir::new("refuse");
    let name = d.chan("c");
    let opts = WriterOptions::new()
        .grace(Duration::from_millis(20))
        .grace_policy(GracePolicy::Refuse);
    let mut w = Writer::open(&name, opts).unwrap();
    w.publish(b"1").unwrap();
    let mut r = Reader::open(&name, ReaderOptions::new()).unwrap();
    let v = r.read().unwrap();
    w.publish(b"2").unwrap();
    let e = w.publish(b"3").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(ETIMEDOUT));
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    assert_eq!(w.generation(), 2);
    assert_eq!(&v[..], b"1");
    v.finish().unwrap();
    assert_eq!(w.publish(b"3").unwrap(), 3);
}

#[test]
fn wait_for_a_newer_generation() {
    let d = TestDir::new("wait");
    let name = d.chan("c");
    let mut w = Writer::open(&name, WriterOptions::new()).unwrap();
    w.publish(b"1").unwrap();
    let mut r = Reader::open(&name, ReaderOptions::new()).unwrap();
    assert!(r.wait(0, Duration::ZERO).unwrap());
    assert!(!r.wait(1, Duration::ZERO).unwrap());
    let t = Instant::now();
    assert!(!r.wait(1, Duration::from_millis(30)).unwrap());
    assert!(t.elapsed() >= Duration::from_millis(30));

    let publisher = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        w.publish(b"2").unwrap()
    });
    let t = Instant::now();
    assert!(r.wait(1, Duration::from_secs(10)).unwrap());
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(publisher.join().unwrap(), 2);
    assert_eq!(&r.read().unwrap()[..], b"2");
}

#[test]
fn reserve_commit_and_abort() {
    let d = TestDir::new("reserve");
    let name = d.chan("c");
    let mut w = Writer::open(&name, WriterOptions::new()).unwrap();
    let mut res = w.reserve(100).unwrap();
    assert_eq!(res.len(), 100);
    res.copy_from_slice(&pattern(1, 100));
    assert_eq!(res.commit(64).unwrap(), 1);
    let mut r = Reader::open(&name, ReaderOptions::new().verify(true)).unwrap();
    {
        let v = r.read().unwrap();
        assert_eq!(&v[..], &pattern(1, 100)[..64]);
    }
    // Dropped: nothing published.
    {
        let mut res = w.reserve(10).unwrap();
        res.fill(0xee);
    }
    assert_eq!(w.generation(), 1);
    // Committing more than was reserved: EINVAL, nothing published.
    let res = w.reserve(10).unwrap();
    assert_eq!(errno(res.commit(11)), EINVAL);
    assert_eq!(w.generation(), 1);
    assert_eq!(&r.read().unwrap()[..], &pattern(1, 100)[..64]);
    // And the writer goes on.
    let mut res = w.reserve(3).unwrap();
    res.copy_from_slice(b"abc");
    let info = res.commit_info(3).unwrap();
    assert_eq!((info.gen, info.size), (2, 3));
    assert_eq!(&r.read().unwrap()[..], b"abc");
}

#[test]
fn publish_from_a_file_and_a_socket() {
    let d = TestDir::new("publish_fd");
    let name = d.chan("c");
    let mut w = Writer::open(&name, WriterOptions::new()).unwrap();
    let mut r = Reader::open(&name, ReaderOptions::new().verify(true)).unwrap();

    let path = d.path().join("payload");
    std::fs::write(&path, pattern(7, 300_000)).unwrap();
    let f = std::fs::File::open(&path).unwrap();
    assert_eq!(w.publish_fd(&f, 0).unwrap(), 1);
    assert_eq!(pattern_mismatch(7, &r.read().unwrap()), None);
    assert_eq!(r.read().unwrap().len(), 300_000);

    let info = w.publish_fd_at(&f, 1000, 5000).unwrap();
    assert_eq!((info.gen, info.size), (2, 5000));
    assert_eq!(&r.read().unwrap()[..], &pattern(7, 6000)[1000..]);

    // A stream to its end: the peer writes, then closes.
    let (mut a, b) = UnixStream::pair().unwrap();
    let feeder = std::thread::spawn(move || {
        a.write_all(&pattern(9, 70_000)).unwrap();
    });
    assert_eq!(w.publish_fd(&b, 0).unwrap(), 3);
    feeder.join().unwrap();
    let v = r.read().unwrap();
    assert_eq!((v.len(), pattern_mismatch(9, &v)), (70_000, None));
    drop(v);

    // A source shorter than asked for publishes nothing.
    assert_eq!(errno(w.publish_fd(&f, 400_000)), ENODATA);
    assert_eq!(w.generation(), 3);
}

#[test]
fn errors_carry_the_errno() {
    let d = TestDir::new("errors");
    let name = d.chan("c");
    let e = Reader::open(&name, ReaderOptions::new()).unwrap_err();
    assert_eq!(
        (e.raw_os_error(), e.kind()),
        (Some(ENOENT), io::ErrorKind::NotFound)
    );

    let w = Writer::open(&name, WriterOptions::new()).unwrap();
    let mut r = Reader::open(&name, ReaderOptions::new()).unwrap();
    assert_eq!(errno(r.read()), ENODATA);
    assert_eq!(errno(Writer::open(&name, WriterOptions::new())), EBUSY);
    drop(w);

    assert_eq!(errno(Writer::open("", WriterOptions::new())), EINVAL);
    assert_eq!(errno(Reader::open("", ReaderOptions::new())), EINVAL);
    let long = d.chan(&"x".repeat(300));
    assert_eq!(
        errno(Writer::open(&long, WriterOptions::new())),
        ENAMETOOLONG
    );
    let e = Writer::open(d.chan("a\0b"), WriterOptions::new()).unwrap_err();
    assert_eq!(
        (e.kind(), e.raw_os_error()),
        (io::ErrorKind::InvalidInput, None)
    );

    // Files that are not a channel: refused, and left as they were.
    let bad = d.chan("bad");
    let junk = vec![0x5au8; 8192];
    std::fs::write(format!("{bad}_state"), &junk).unwrap();
    assert_eq!(errno(Reader::open(&bad, ReaderOptions::new())), EBADMSG);
    assert_eq!(errno(Writer::open(&bad, WriterOptions::new())), EBADMSG);
    assert_eq!(std::fs::read(format!("{bad}_state")).unwrap(), junk);
}

#[test]
fn views_on_two_readers_at_once() {
    let d = TestDir::new("two");
    let name = d.chan("c");
    let mut w = Writer::open(&name, WriterOptions::new()).unwrap();
    w.publish(b"one").unwrap();
    let mut r1 = Reader::open(&name, ReaderOptions::new()).unwrap();
    let mut r2 = Reader::open(&name, ReaderOptions::new().xchg(true)).unwrap();
    let a = r1.read().unwrap();
    w.publish(b"two").unwrap();
    let b = r2.read().unwrap();
    assert_eq!((&a[..], &b[..]), (&b"one"[..], &b"two"[..]));
    a.finish().unwrap();
    b.finish().unwrap();
}

#[test]
fn a_reader_moves_to_another_thread() {
    let d = TestDir::new("send");
    let name = d.chan("c");
    let mut w = Writer::open(&name, WriterOptions::new()).unwrap();
    w.publish(b"abc").unwrap();
    let mut r = Reader::open(&name, ReaderOptions::new()).unwrap();
    let t = std::thread::spawn(move || {
        let v = r.read().unwrap();
        let got = v.to_vec();
        v.finish().unwrap();
        (r, got)
    });
    let (mut r, got) = t.join().unwrap();
    assert_eq!(got, b"abc");
    // A view can be shared by reference across scoped threads.
    let v = r.read().unwrap();
    std::thread::scope(|s| {
        s.spawn(|| assert_eq!(&v[..], b"abc"));
    });
    v.finish().unwrap();
}

#[test]
fn a_new_writer_continues_the_generations() {
    let d = TestDir::new("restart");
    let name = d.chan("c");
    let mut r;
    {
        let mut w = Writer::open(&name, WriterOptions::new()).unwrap();
        w.publish(b"1").unwrap();
        w.publish(b"2").unwrap();
        r = Reader::open(&name, ReaderOptions::new()).unwrap();
    }
    // No writer: readers keep the last snapshot.
    assert_eq!(&r.read().unwrap()[..], b"2");
    let mut w = Writer::open(&name, WriterOptions::new()).unwrap();
    assert_eq!(w.generation(), 2);
    assert_eq!(w.publish(b"3").unwrap(), 3);
    assert_eq!(&r.read().unwrap()[..], b"3");
}

#[test]
fn unlink_removes_the_channel() {
    let d = TestDir::new("unlink");
    let name = d.chan("c");
    let mut w = Writer::open(&name, WriterOptions::new()).unwrap();
    w.publish(b"kept").unwrap();
    let mut r = Reader::open(&name, ReaderOptions::new()).unwrap();
    mmsync::unlink(&name).unwrap();
    assert_eq!(errno(Reader::open(&name, ReaderOptions::new())), ENOENT);
    assert_eq!(errno(mmsync::unlink(&name)), ENOENT);
    // Open handles work on the unlinked files.
    w.publish(b"still").unwrap();
    assert_eq!(&r.read().unwrap()[..], b"still");
}

#[test]
fn name_without_slash_lives_in_mmsync_dir() {
    // setenv() races with getenv() in the other test threads: run the
    // check in a child process of this test binary, alone.
    let d = TestDir::new("dir");
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "mmsync_dir_child", "--test-threads=1"])
        .env("MMSYNC_DIR", d.path())
        .env("MMSYNC_RS_CHILD", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
    assert!(d.path().join("plain_state").exists());
    let mut r = Reader::open(d.chan("plain"), ReaderOptions::new()).unwrap();
    assert_eq!(&r.read().unwrap()[..], b"in MMSYNC_DIR");
}

/// The child of name_without_slash_lives_in_mmsync_dir.
#[test]
fn mmsync_dir_child() {
    if std::env::var_os("MMSYNC_RS_CHILD").is_none() {
        return;
    }
    let mut w = Writer::open("plain", WriterOptions::new()).unwrap();
    w.publish(b"in MMSYNC_DIR").unwrap();
}

/// Polls the notification fd for POLLIN.
fn poll_in(fd: std::os::fd::BorrowedFd<'_>, timeout_ms: i32) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    #[repr(C)]
    struct PollFd {
        fd: i32,
        events: i16,
        revents: i16,
    }
    extern "C" {
        fn poll(fds: *mut PollFd, n: u64, timeout: i32) -> i32;
    }
    const POLLIN: i16 = 1;
    let mut p = PollFd {
        fd: fd.as_raw_fd(),
        events: POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    match unsafe { poll(&mut p, 1, timeout_ms) } {
        n if n < 0 => Err(io::Error::last_os_error()),
        0 => Ok(false),
        _ => Ok(p.revents & POLLIN != 0),
    }
}

#[test]
fn notify_fd_polls_readable_after_a_publish() {
    let d = TestDir::new("notify");
    let name = d.chan("c");
    let mut w = Writer::open(&name, WriterOptions::new()).unwrap();
    w.publish(b"1").unwrap();
    let mut r = Reader::open(&name, ReaderOptions::new()).unwrap();
    match r.notify_fd() {
        Err(e) if NO_NOTIFY.contains(&e.raw_os_error().unwrap_or(0)) => {
            return skip(
                "notify_fd_polls_readable_after_a_publish",
                &format!("mmsync_reader_fd(): {e}; mmsync_wait() sleep-polls"),
            );
        }
        Err(e) => panic!("notify_fd: {e}"),
        Ok(_) => {}
    }
    // Consume: nothing newer than 1, so the fd arms for generation 2.
    assert!(!r.wait(1, Duration::ZERO).unwrap());
    // A readable fd now is a spurious wake-up (allowed); drain them.
    while poll_in(r.notify_fd().unwrap(), 0).unwrap() {
        assert!(!r.wait(1, Duration::ZERO).unwrap());
    }
    let publisher = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        w.publish(b"2").unwrap();
        w
    });
    assert!(
        poll_in(r.notify_fd().unwrap(), 10_000).unwrap(),
        "no POLLIN within 10 s"
    );
    publisher.join().unwrap();
    assert!(r.wait(1, Duration::ZERO).unwrap());
    assert_eq!(r.read().unwrap().generation(), 2);
}

#[test]
fn file_modes_at_creation() {
    use std::os::unix::fs::PermissionsExt;
    let d = TestDir::new("modes");
    let name = d.chan("c");
    let opts = WriterOptions::new().modes(0o600, 0o604).table_mode(0o620);
    let mut w = Writer::open(&name, opts).unwrap();
    w.publish(b"x").unwrap();
    let mode = |f: &str| {
        std::fs::metadata(format!("{name}_{f}"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(
        (mode("data_1"), mode("state"), mode("readers")),
        (0o600, 0o604, 0o620)
    );
    // Exec, setuid, setgid and sticky bits are refused.
    let bad = WriterOptions::new().modes(0o700, 0);
    assert_eq!(errno(Writer::open(d.chan("x"), bad)), EINVAL);
    let bad = WriterOptions::new().table_mode(0o4660);
    assert_eq!(errno(Writer::open(d.chan("y"), bad)), EINVAL);
}

#[test]
fn full_table_and_checksum_mismatch() {
    const EUSERS: i32 = 87;
    const EIO: i32 = 5;
    let d = TestDir::new("eusers");
    let name = d.chan("c");
    let mut w = Writer::open(&name, WriterOptions::new().max_readers(2)).unwrap();
    w.publish(&pattern(1, 4096)).unwrap();
    let r1 = Reader::open(&name, ReaderOptions::new()).unwrap();
    let _r2 = Reader::open(&name, ReaderOptions::new()).unwrap();
    assert_eq!(errno(Reader::open(&name, ReaderOptions::new())), EUSERS);
    drop(r1);
    let mut r = Reader::open(&name, ReaderOptions::new().verify(true)).unwrap();
    assert_eq!(pattern_mismatch(1, &r.read().unwrap()), None);
    // Damage the bytes behind the writer's back: verify says EIO.
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("{name}_data_1"))
        .unwrap();
    f.write_all_at(&[!pattern(1, 1)[0]], 0).unwrap();
    assert_eq!(errno(r.read()), EIO);
}
