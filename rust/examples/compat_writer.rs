//! An mmap-sync 2.x writer program on libmmsync. Against mmap-sync, the
//! one line that differs is the `use` of `Synchronizer`:
//!
//!     use mmap_sync::synchronizer::Synchronizer;   // before
//!     use mmsync::compat::synchronizer::Synchronizer; // after
//!
//! Run: cargo run --features mmap-sync-compat --config debian-registry.toml
//!      --example compat_writer [PATH_PREFIX]

mod common;

use common::HelloWorld;
use mmsync::compat::synchronizer::Synchronizer;
use std::time::Duration;

fn main() {
    let prefix = std::env::args().nth(1).unwrap_or("/tmp/hello_world".into());
    let mut synchronizer = Synchronizer::new(prefix.as_ref());

    let data = HelloWorld {
        version: 7,
        messages: vec!["Hello".to_string(), "World".to_string(), "!".to_string()],
    };

    let (written, reset) = synchronizer
        .write(&data, Duration::from_secs(1))
        .expect("failed to write data");

    println!("written: {} bytes | reset: {}", written, reset);
}
