//! Read cost of the Rust bindings against C, in one process and run.
//!
//!     cargo bench --bench read                  # safe API vs C
//!     cargo bench --bench read --features mmap-sync-compat \
//!         --config debian-registry.toml         # + compat read::<T>
//!
//! One reader, pinned to one CPU, an idle writer, a 64-byte snapshot of
//! which each read touches the first byte (the compat cases touch a
//! field of the archived struct). The cases run interleaved, ROUNDS times
//! each; the table reports medians. The C inline loop (csrc/) is what a C
//! program compiles from the header; the Rust API calls the exported
//! out-of-line symbols, so "C out-of-line" shows what the call costs and
//! the rest is the binding's own. Target: safe read <= 1.2x C inline.
//!
//! Run by `cargo test --benches` (no `--bench` argument) it does a short
//! smoke run and checks nothing but that every case reads.

use std::hint::black_box;
use std::time::Instant;

use mmsync::{Reader, Writer};

// csrc/bench_inline.c, built by build.rs where it found the header.
#[cfg(mmsync_csrc)]
extern "C" {
    fn mmsync_rs_bench_inline(r: *mut mmsync::sys::mmsync_reader, n: u64, sink: *mut u64) -> i32;
    fn mmsync_rs_bench_ool(r: *mut mmsync::sys::mmsync_reader, n: u64, sink: *mut u64) -> i32;
}

extern "C" {
    fn sched_getaffinity(pid: i32, size: usize, mask: *mut u64) -> i32;
    fn sched_setaffinity(pid: i32, size: usize, mask: *const u64) -> i32;
}

/// Pins this thread to the last CPU it may run on; returns it.
fn pin_cpu() -> Option<usize> {
    let mut mask = [0u64; 16];
    // SAFETY: a 1024-bit cpu_set_t-sized buffer.
    if unsafe { sched_getaffinity(0, std::mem::size_of_val(&mask), mask.as_mut_ptr()) } != 0 {
        return None;
    }
    let cpu = (0..1024)
        .rev()
        .find(|c| mask[c / 64] & (1 << (c % 64)) != 0)?;
    let mut one = [0u64; 16];
    one[cpu / 64] = 1 << (cpu % 64);
    // SAFETY: as above.
    let rc = unsafe { sched_setaffinity(0, std::mem::size_of_val(&one), one.as_ptr()) };
    (rc == 0).then_some(cpu)
}

struct Case<'a> {
    name: &'static str,
    run: Box<dyn FnMut(u64) -> u64 + 'a>,
    ns: Vec<f64>,
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    s[s.len() / 2]
}

#[cfg(feature = "mmap-sync-compat")]
mod compat_case {
    use bytecheck::CheckBytes;
    use rkyv::{Archive, Deserialize, Serialize};

    #[derive(Archive, Deserialize, Serialize)]
    #[archive_attr(derive(CheckBytes))]
    pub struct HelloWorld {
        pub version: u32,
        pub messages: Vec<String>,
    }

    pub fn hello() -> HelloWorld {
        HelloWorld {
            version: 7,
            messages: vec!["Hello".into(), "World".into(), "!".into()],
        }
    }
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (rounds, n) = if bench { (15, 2_000_000) } else { (2, 10_000) };
    let cpu = pin_cpu();

    let dir = std::path::Path::new("/dev/shm")
        .join(format!("mmsync-test-rs-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    struct Cleanup(std::path::PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _cleanup = Cleanup(dir.clone());
    let name = dir.join("bench");

    let mut w = Writer::open(&name, Default::default()).unwrap();
    w.publish(&[42u8; 64]).unwrap();
    // The C loops' readers: opened here, so that they outlive the cases.
    #[cfg(mmsync_csrc)]
    let (rc, ro) = (
        Reader::open(&name, Default::default()).unwrap(),
        Reader::open(&name, Default::default()).unwrap(),
    );
    let mut rs = Reader::open(&name, Default::default()).unwrap();
    let mut rf = Reader::open(&name, Default::default()).unwrap();

    let mut cases: Vec<Case> = Vec::new();
    #[cfg(mmsync_csrc)]
    {
        let (pc, po) = (rc.as_raw(), ro.as_raw());
        cases.push(Case {
            name: "C inline read_begin/read_end (header)",
            run: Box::new(move |n| {
                let mut sink = 0;
                // SAFETY: a live reader handle, no view open.
                assert_eq!(unsafe { mmsync_rs_bench_inline(pc, n, &mut sink) }, 0);
                sink
            }),
            ns: vec![],
        });
        cases.push(Case {
            name: "C out-of-line _ool calls",
            run: Box::new(move |n| {
                let mut sink = 0;
                // SAFETY: as above.
                assert_eq!(unsafe { mmsync_rs_bench_ool(po, n, &mut sink) }, 0);
                sink
            }),
            ns: vec![],
        });
    }
    cases.extend([
        Case {
            name: "Rust Reader::read + drop",
            run: Box::new(|n| {
                let mut sink = 0u64;
                for _ in 0..n {
                    let v = rs.read().unwrap();
                    sink += u64::from(v.first().copied().unwrap_or(0));
                }
                sink
            }),
            ns: vec![],
        },
        Case {
            name: "Rust Reader::read + View::finish",
            run: Box::new(|n| {
                let mut sink = 0u64;
                for _ in 0..n {
                    let v = rf.read().unwrap();
                    sink += u64::from(v.first().copied().unwrap_or(0));
                    v.finish().unwrap();
                }
                sink
            }),
            ns: vec![],
        },
    ]);

    #[cfg(feature = "mmap-sync-compat")]
    let (_compat_writer, mut s1, mut s2) = {
        use mmsync::compat::Synchronizer;
        let prefix = dir.join("compat");
        let mut cw = Synchronizer::new(prefix.as_os_str());
        cw.write(&compat_case::hello(), std::time::Duration::from_secs(1))
            .unwrap();
        (
            cw,
            Synchronizer::new(prefix.as_os_str()),
            Synchronizer::new(prefix.as_os_str()),
        )
    };
    #[cfg(feature = "mmap-sync-compat")]
    {
        use compat_case::HelloWorld;
        cases.push(Case {
            name: "compat read::<T>(check_bytes = false)",
            run: Box::new(move |n| {
                let mut sink = 0u64;
                for _ in 0..n {
                    // SAFETY: the writer above wrote a HelloWorld.
                    let d = unsafe { s1.read::<HelloWorld>(false) }.unwrap();
                    sink += u64::from(d.version);
                }
                sink
            }),
            ns: vec![],
        });
        cases.push(Case {
            name: "compat read::<T>(check_bytes = true)",
            run: Box::new(move |n| {
                let mut sink = 0u64;
                for _ in 0..n {
                    // SAFETY: checked.
                    let d = unsafe { s2.read::<HelloWorld>(true) }.unwrap();
                    sink += u64::from(d.version);
                }
                sink
            }),
            ns: vec![],
        });
    }

    // Warm up (maps the slots), then interleave the rounds.
    for c in cases.iter_mut() {
        black_box((c.run)(n / 10 + 1));
    }
    for round in 0..rounds {
        let k = cases.len();
        for i in 0..k {
            // Rotate the order so that no case always runs first.
            let c = &mut cases[(i + round) % k];
            let t = Instant::now();
            black_box((c.run)(n));
            c.ns.push(t.elapsed().as_nanos() as f64 / n as f64);
        }
    }

    let find = |name: &str| {
        cases
            .iter()
            .find(|c| c.name.starts_with(name))
            .map(|c| median(&c.ns))
    };
    // Without the C loops (no header), ratios are against the Rust read.
    let safe = find("Rust Reader::read + drop").unwrap();
    let base = find("C inline").unwrap_or(f64::NAN);
    println!(
        "read cost, ns/read: median of {rounds} rounds x {n} reads, CPU {}",
        cpu.map_or("unpinned".into(), |c| c.to_string())
    );
    println!("| case | median | min | max | x C inline | x Rust read |");
    println!("|---|---|---|---|---|---|");
    for c in &cases {
        let m = median(&c.ns);
        let min = c.ns.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = c.ns.iter().cloned().fold(0.0, f64::max);
        println!(
            "| {} | {m:.2} | {min:.2} | {max:.2} | {:.2}x | {:.2}x |",
            c.name,
            m / base,
            m / safe
        );
    }
    if bench && !base.is_nan() {
        let ratio = safe / base;
        println!(
            "safe Rust read vs C inline: {ratio:.2}x (target <= 1.2x): {}",
            if ratio <= 1.2 { "met" } else { "missed" }
        );
    }
}
