//! An mmap-sync 2.x reader program on libmmsync; only the `use` of
//! `Synchronizer` differs from the mmap-sync original (see
//! compat_writer.rs).

mod common;

use common::HelloWorld;
use mmsync::compat::synchronizer::Synchronizer;

fn main() {
    let prefix = std::env::args().nth(1).unwrap_or("/tmp/hello_world".into());
    let mut synchronizer = Synchronizer::new(prefix.as_ref());

    let data = unsafe { synchronizer.read::<HelloWorld>(false) }.expect("failed to read data");

    println!("version: {} | messages: {:?}", data.version, data.messages);
}
