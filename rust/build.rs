//! Finds libmmsync and tells cargo how to link it (README.md, "Rust").
//!
//! In order:
//! 1. `MMSYNC_LIB_DIR`: that directory; static if `MMSYNC_STATIC=1` or it
//!    has no `libmmsync.so`, else dynamic (with an rpath for this crate's
//!    own tests, examples and benches). The header comes from
//!    `MMSYNC_INCLUDE_DIR`, else `<dir>/../include` or this checkout's.
//! 2. Inside a libmmsync checkout: `make lib` there, then link its
//!    `build/default/libmmsync.a` statically, so that nothing this crate
//!    builds can ever load an installed libmmsync instead.
//! 3. `pkg-config libmmsync` (`--static` with `MMSYNC_STATIC=1`).
//!
//! `MMSYNC_PKG_CONFIG=1` skips step 2. It also compiles `csrc/`: the
//! C inline read loop the benchmark compares against.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Lib {
    /// Arguments that link a C program against the same library.
    c_link: Vec<String>,
    include: Option<PathBuf>,
    /// Directory of the library when cargo links it from a directory.
    dir: Option<PathBuf>,
}

fn main() {
    for v in [
        "MMSYNC_LIB_DIR",
        "MMSYNC_INCLUDE_DIR",
        "MMSYNC_STATIC",
        "MMSYNC_PKG_CONFIG",
        "PKG_CONFIG_PATH",
        "PKG_CONFIG_SYSROOT_DIR",
        "CC",
        "MMSYNC_SANITIZE",
    ] {
        println!("cargo:rerun-if-env-changed={v}");
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=csrc");
    println!("cargo::rustc-check-cfg=cfg(mmsync_csrc)");

    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let checkout = manifest.parent().map(Path::to_path_buf).filter(|p| {
        p.join("include/mmsync.h").is_file()
            && p.join("lib").is_dir()
            && p.join("Makefile").is_file()
    });
    let want_static = env::var("MMSYNC_STATIC").is_ok_and(|v| v == "1");
    let force_pc = env::var("MMSYNC_PKG_CONFIG").is_ok_and(|v| v == "1");

    let lib = if let Some(dir) = env::var_os("MMSYNC_LIB_DIR") {
        from_dir(&PathBuf::from(dir), want_static, checkout.as_deref())
    } else if let (Some(top), false) = (&checkout, force_pc) {
        from_checkout(top)
    } else {
        from_pkg_config(want_static)
    };

    let include = env::var_os("MMSYNC_INCLUDE_DIR")
        .map(PathBuf::from)
        .or(lib.include.clone());
    match &include {
        Some(inc) => {
            println!("cargo:include={}", inc.display());
            println!("cargo:rustc-env=MMSYNC_RS_INCLUDE_DIR={}", inc.display());
            build_csrc(&manifest, inc);
            println!("cargo:rustc-cfg=mmsync_csrc");
        }
        None => println!("cargo:rustc-env=MMSYNC_RS_INCLUDE_DIR="),
    }
    let mut c_link = lib.c_link.clone();
    // A sanitizer build of the library (rust/tap.sh sets this) needs its
    // runtime in the C test programs too.
    if let Ok(san) = env::var("MMSYNC_SANITIZE") {
        if !san.is_empty() {
            c_link.push(format!("-fsanitize={san}"));
        }
    }
    println!("cargo:rustc-env=MMSYNC_RS_C_LINK={}", c_link.join(" "));
    // tests/compile_fail.rs checks the compile_fail doc tests' error codes
    // with the rustc that builds this crate (stable rustdoc does not).
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    println!("cargo:rustc-env=MMSYNC_RS_RUSTC={rustc}");
    let dir = lib.dir.as_ref().map(|d| d.display().to_string());
    println!(
        "cargo:rustc-env=MMSYNC_RS_LIB_DIR={}",
        dir.unwrap_or_default()
    );
}

/// Link from a directory that holds libmmsync.a and/or libmmsync.so.
fn from_dir(dir: &Path, want_static: bool, checkout: Option<&Path>) -> Lib {
    let dir = dir.canonicalize().unwrap_or_else(|e| {
        panic!("MMSYNC_LIB_DIR={}: {e}", dir.display());
    });
    let archive = dir.join("libmmsync.a");
    let shared = dir.join("libmmsync.so");
    let as_static = want_static || !shared.exists();
    println!("cargo:rustc-link-search=native={}", dir.display());
    let c_link = if as_static {
        if !archive.is_file() {
            panic!("MMSYNC_LIB_DIR={}: no libmmsync.a", dir.display());
        }
        println!("cargo:rerun-if-changed={}", archive.display());
        link_static_deps();
        println!("cargo:rustc-link-lib=static=mmsync");
        vec![
            archive.display().to_string(),
            "-lxxhash".into(),
            "-luring".into(),
        ]
    } else {
        println!("cargo:rerun-if-changed={}", shared.display());
        println!("cargo:rustc-link-lib=dylib=mmsync");
        // For this package's own binaries only; a dependent crate's
        // binaries find the library the way their platform does.
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
        vec![
            format!("-L{}", dir.display()),
            format!("-Wl,-rpath,{}", dir.display()),
            "-lmmsync".into(),
        ]
    };
    let include = [dir.join("../include"), dir.join("../../include")]
        .into_iter()
        .find(|p| p.join("mmsync.h").is_file())
        .or_else(|| checkout.map(|c| c.join("include")))
        .and_then(|p| p.canonicalize().ok());
    Lib {
        c_link,
        include,
        dir: Some(dir),
    }
}

/// Build the checkout's library with its own Makefile and link it statically.
fn from_checkout(top: &Path) -> Lib {
    for p in ["lib", "include/mmsync.h", "Makefile"] {
        println!("cargo:rerun-if-changed={}", top.join(p).display());
    }
    let mut make = Command::new(env::var_os("MAKE").unwrap_or_else(|| "make".into()));
    make.arg("-C")
        .arg(top)
        .arg("--no-print-directory")
        .arg("lib");
    // Share cargo's jobserver; without one, stay within -j2 (STYLE: the
    // machine is shared).
    match env::var_os("CARGO_MAKEFLAGS") {
        Some(flags) => make.env("MAKEFLAGS", flags),
        None => make.env("MAKEFLAGS", "-j2"),
    };
    make.env_remove("MAKELEVEL").env_remove("MFLAGS");
    for v in ["SANITIZE", "TOP", "CFLAGS", "V"] {
        make.env_remove(v);
    }
    let status = make
        .status()
        .unwrap_or_else(|e| panic!("running make in {}: {e}", top.display()));
    if !status.success() {
        panic!(
            "`make lib` in {} failed ({status}); set MMSYNC_LIB_DIR to link a library built elsewhere",
            top.display()
        );
    }
    let mut lib = from_dir(&top.join("build/default"), true, Some(top));
    lib.include = Some(top.join("include"));
    lib
}

/// What libmmsync.a itself needs (lib/: LIB_LIBS in the Makefile).
fn link_static_deps() {
    println!("cargo:rustc-link-lib=dylib=xxhash");
    println!("cargo:rustc-link-lib=dylib=uring");
}

fn from_pkg_config(want_static: bool) -> Lib {
    let pc = env::var_os("PKG_CONFIG").unwrap_or_else(|| "pkg-config".into());
    let run = |args: &[&str]| -> String {
        let out = Command::new(&pc)
            .args(args)
            .arg("libmmsync")
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "libmmsync not found: not built inside a libmmsync checkout, MMSYNC_LIB_DIR unset, and pkg-config failed: {e}"
                )
            });
        if !out.status.success() {
            panic!(
                "libmmsync not found: not inside a libmmsync checkout, MMSYNC_LIB_DIR unset, and `pkg-config {} libmmsync` said: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let libs = if want_static {
        run(&["--libs", "--static"])
    } else {
        run(&["--libs"])
    };
    let mut c_link = Vec::new();
    for tok in libs.split_whitespace() {
        if let Some(dir) = tok.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
        } else if let Some(name) = tok.strip_prefix("-l") {
            let kind = if want_static && name == "mmsync" {
                "static"
            } else {
                "dylib"
            };
            println!("cargo:rustc-link-lib={kind}={name}");
        }
        c_link.push(tok.to_string());
    }
    let cflags = run(&["--cflags"]);
    let include = cflags
        .split_whitespace()
        .filter_map(|t| t.strip_prefix("-I"))
        .map(PathBuf::from)
        .chain(std::iter::once(PathBuf::from(run(&[
            "--variable=includedir",
        ]))))
        .find(|p| p.join("mmsync.h").is_file());
    Lib {
        c_link,
        include,
        dir: None,
    }
}

/// Compile csrc/*.c against the header into one static archive.
fn build_csrc(manifest: &Path, include: &Path) {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let cc = env::var_os("CC").unwrap_or_else(|| "cc".into());
    let mut objs = Vec::new();
    let mut srcs: Vec<_> = std::fs::read_dir(manifest.join("csrc"))
        .expect("csrc/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    srcs.sort();
    for src in srcs {
        let obj = out.join(src.file_stem().unwrap()).with_extension("o");
        let st = Command::new(&cc)
            .args([
                "-std=gnu11",
                "-O2",
                "-g",
                "-fPIC",
                "-Wall",
                "-Wextra",
                "-Werror",
            ])
            .arg("-I")
            .arg(include)
            .arg("-c")
            .arg(&src)
            .arg("-o")
            .arg(&obj)
            .status()
            .unwrap_or_else(|e| panic!("running {cc:?}: {e}"));
        if !st.success() {
            panic!("compiling {} failed", src.display());
        }
        objs.push(obj);
    }
    let archive = out.join("libmmsync_rs_csrc.a");
    let _ = std::fs::remove_file(&archive);
    let st = Command::new(env::var_os("AR").unwrap_or_else(|| "ar".into()))
        .arg("crs")
        .arg(&archive)
        .args(&objs)
        .status()
        .expect("running ar");
    if !st.success() {
        panic!("ar failed");
    }
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static=mmsync_rs_csrc");
}
