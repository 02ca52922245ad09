//! Read the hello-world snapshot in place, with no copy (the Rust twin of
//! examples/reader.c; it reads what either writer published).

use std::time::Duration;

mod hello;

fn main() -> std::io::Result<()> {
    let mut r = mmsync::Reader::open(hello::CHANNEL, Default::default())?;
    // Wait up to a second for a first snapshot.
    if r.generation() == 0 && !r.wait(0, Duration::from_secs(1))? {
        eprintln!("reader: nothing published yet");
        std::process::exit(1);
    }
    let v = r.read()?;
    // Parsed straight from the shared mapping.
    let hello = hello::Hello::from_bytes(&v).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not a hello_world snapshot",
        )
    })?;
    let (gen, checksum) = (v.generation(), v.checksum());
    // Stale: the writer evicted us and the bytes may have changed.
    v.finish()?;
    println!(
        "reader: version {}: {} (generation {gen}, checksum {checksum:016x})",
        hello.version,
        hello.messages.join(" ")
    );
    Ok(())
}
