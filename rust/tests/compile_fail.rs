//! The `compile_fail` doc tests of src/ fail for the reason they claim.
//!
//! Stable rustdoc passes a `compile_fail,E0499` block on any compile
//! error, a typo included. This test compiles each such block with rustc
//! against this crate and requires exactly the error code it names.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Block {
    code: String,
    body: String,
    line: usize,
}

/// The ```compile_fail,EXXXX blocks of the doc comments of a source.
fn blocks(src: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut cur: Option<Block> = None;
    for (n, line) in src.lines().enumerate() {
        let Some(doc) = line.trim_start().strip_prefix("///") else {
            continue;
        };
        let doc = doc.strip_prefix(' ').unwrap_or(doc);
        match (&mut cur, doc.strip_prefix("```compile_fail,")) {
            (None, Some(code)) => {
                cur = Some(Block {
                    code: code.trim().to_string(),
                    body: String::new(),
                    line: n + 1,
                })
            }
            (Some(_), _) if doc.starts_with("```") => out.push(cur.take().unwrap()),
            (Some(b), _) => {
                b.body += doc.strip_prefix("# ").unwrap_or(doc);
                b.body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

/// The newest libmmsync rlib next to this test binary.
fn rlib(deps: &Path) -> PathBuf {
    std::fs::read_dir(deps)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with("libmmsync-") && n.ends_with(".rlib")
        })
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .expect("libmmsync-*.rlib in target/*/deps")
}

#[test]
fn compile_fail_blocks_fail_with_their_error_code() {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let rlib = rlib(deps);
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let mut checked = 0;
    for (file, src) in [
        ("src/reader.rs", include_str!("../src/reader.rs")),
        ("src/writer.rs", include_str!("../src/writer.rs")),
        ("src/lib.rs", include_str!("../src/lib.rs")),
    ] {
        for b in blocks(src) {
            let path = tmp.join(format!("compile_fail_{}_{}.rs", std::process::id(), b.line));
            let body = format!(
                "#![allow(unused)]\nfn main() {{}}\nfn doc() -> Result<(), std::io::Error> {{\n{}}}\n",
                b.body
            );
            std::fs::write(&path, body).unwrap();
            let out = Command::new(env!("MMSYNC_RS_RUSTC"))
                .args([
                    "--edition",
                    "2021",
                    "--crate-type",
                    "lib",
                    "--emit",
                    "metadata",
                ])
                .arg("--out-dir")
                .arg(&tmp)
                .arg("-L")
                .arg(format!("dependency={}", deps.display()))
                .arg("--extern")
                .arg(format!("mmsync={}", rlib.display()))
                .arg(&path)
                .output()
                .expect("running rustc");
            let _ = std::fs::remove_file(&path);
            let err = String::from_utf8_lossy(&out.stderr);
            let codes: Vec<&str> = err
                .match_indices("error[E")
                .map(|(at, _)| &err[at + 6..at + 11])
                .collect();
            assert!(!out.status.success(), "{file}:{}: compiled", b.line);
            assert!(
                !codes.is_empty() && codes.iter().all(|c| *c == b.code),
                "{file}:{}: wants only {}, got {codes:?}:\n{err}",
                b.line,
                b.code
            );
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} compile_fail blocks found");
}
