//! Publish one hello-world snapshot (the Rust twin of examples/writer.c).
//!
//! The snapshot has the layout of `struct hello_world` in
//! examples/hello.h, so the C reader example reads it too:
//!
//!     cargo run --example writer && ../build/default/examples/reader

mod hello;

fn main() -> std::io::Result<()> {
    let hello = hello::Hello {
        version: 7,
        messages: vec!["Hello".into(), "World".into(), "!".into()],
    };
    let bytes = hello.to_bytes();
    let mut w = mmsync::Writer::open(hello::CHANNEL, Default::default())?;
    let gen = w.publish(&bytes)?;
    println!(
        "writer: published version {}: {} (generation {gen}, {} bytes)",
        hello.version,
        hello.messages.join(" "),
        bytes.len()
    );
    Ok(())
}
