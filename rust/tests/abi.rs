//! The hand-written declarations in src/sys.rs against include/mmsync.h.
//!
//! Each `pub fn` of the `extern "C"` block is translated to the C type of
//! a pointer to it and compiled against the header with
//! `_Static_assert(__builtin_types_compatible_p(__typeof__(&name), T))`,
//! and every `#[repr(C)]` struct's size, alignment and field offsets (as
//! rustc lays them out) are asserted against the C struct. A parameter
//! or return type that differs, a missing or extra parameter, a function
//! the header does not declare, or a moved field fails to compile.
//! `a_wrong_declaration_fails` shows that each of these is caught.

use std::fmt::Write as _;
use std::mem::{align_of, offset_of, size_of};
use std::path::PathBuf;
use std::process::Command;

use mmsync::sys;

#[derive(Clone, Debug)]
struct Decl {
    name: String,
    params: Vec<String>,
    ret: Option<String>,
}

/// The declarations of the `extern "C"` blocks of a Rust source.
fn parse(src: &str) -> Vec<Decl> {
    let text: String = src
        .lines()
        .map(|l| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    let mut decls = Vec::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("extern \"C\" {") {
        let body_start = at + "extern \"C\" {".len();
        let body_len = rest[body_start..].find('}').expect("unclosed extern block");
        for item in rest[body_start..body_start + body_len].split(';') {
            let item = item.split_whitespace().collect::<Vec<_>>().join(" ");
            if item.is_empty() {
                continue;
            }
            decls.push(parse_fn(&item));
        }
        rest = &rest[body_start + body_len..];
    }
    decls
}

fn parse_fn(item: &str) -> Decl {
    let item = item
        .strip_prefix("pub fn ")
        .unwrap_or_else(|| panic!("not a `pub fn` declaration: {item}"));
    let open = item.find('(').unwrap();
    let close = item.rfind(')').unwrap();
    let name = item[..open].trim().to_string();
    let params = item[open + 1..close]
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once(':').expect("name: type").1.trim().to_string())
        .collect();
    let ret = item[close + 1..]
        .trim()
        .strip_prefix("->")
        .map(|t| t.trim().to_string());
    Decl { name, params, ret }
}

/// The C type of a Rust FFI type, as src/sys.rs spells it.
fn c_type(t: &str) -> String {
    let t = t.trim();
    for (prefix, konst) in [("*mut ", false), ("*const ", true)] {
        if let Some(pointee) = t.strip_prefix(prefix) {
            let inner = c_type(pointee);
            let pointee_is_ptr = pointee.trim_start().starts_with('*');
            return match (konst, pointee_is_ptr) {
                (false, _) => format!("{inner} *"),
                (true, false) => format!("const {inner} *"),
                (true, true) => format!("{inner} const *"),
            };
        }
    }
    let t = t.rsplit("::").next().unwrap();
    match t {
        "c_int" => "int".into(),
        "c_char" => "char".into(),
        "c_void" => "void".into(),
        "usize" => "size_t".into(),
        "isize" => "ssize_t".into(),
        "u8" | "u16" | "u32" | "u64" => format!("uint{}_t", &t[1..]),
        "i8" | "i16" | "i32" | "i64" => format!("int{}_t", &t[1..]),
        "off_t" => "off_t".into(),
        s if s.starts_with("mmsync_") => format!("struct {s}"),
        other => panic!("the ABI test does not know the Rust type `{other}`"),
    }
}

fn fn_check(d: &Decl) -> String {
    let ret = d.ret.as_deref().map_or("void".to_string(), c_type);
    let params = if d.params.is_empty() {
        "void".to_string()
    } else {
        d.params
            .iter()
            .map(|p| c_type(p))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "_Static_assert(__builtin_types_compatible_p(__typeof__(&{n}), {ret} (*)({params})),\n\
         \t\"{n}: src/sys.rs declares {ret} {n}({params})\");\n",
        n = d.name
    )
}

struct Layout {
    name: &'static str,
    /// Options structs start with `size_t sz` and may grow in the header
    /// (the library reads only `sz` bytes): Rust's must be a prefix. The
    /// others are written by the library and must match exactly.
    grows: bool,
    size: usize,
    align: usize,
    fields: Vec<(&'static str, usize, usize)>,
}

fn field_size<S, F>(_: fn(&S) -> &F) -> usize {
    size_of::<F>()
}

macro_rules! layout {
    (grows $t:ident { $($f:ident),* $(,)? }) => {
        Layout { grows: true, ..layout!($t { $($f),* }) }
    };
    ($t:ident { $($f:ident),* $(,)? }) => {
        Layout {
            name: stringify!($t),
            grows: false,
            size: size_of::<sys::$t>(),
            align: align_of::<sys::$t>(),
            fields: vec![$((
                stringify!($f),
                offset_of!(sys::$t, $f),
                field_size::<sys::$t, _>(|s| &s.$f),
            )),*],
        }
    };
}

/// Every struct of src/sys.rs that crosses the boundary by value or pointer.
fn layouts() -> Vec<Layout> {
    vec![
        layout!(mmsync_view {
            data,
            size,
            gen,
            checksum,
            __priv
        }),
        layout!(grows mmsync_reader_opts { sz, flags, __pad0, poll_ns, handoff_timeout_ns }),
        layout!(mmsync_publish_info {
            gen,
            checksum,
            waited_ns,
            evicted,
            reclaimed,
            size,
            __reserved
        }),
        layout!(grows mmsync_writer_opts {
            sz, grace_ns, grace_policy, fence_mode, max_readers, data_mode, state_mode, __pad0,
            initial_capacity, fd_depth, fd_flags, fd_chunk, backing, nr_allow_uids,
            huge_page_size, allow_uids, allow_gids, nr_allow_gids, table_mode,
            publish_rate, __pad1,
        }),
    ]
}

fn layout_check(l: &Layout) -> String {
    let mut s = String::new();
    let n = l.name;
    let op = if l.grows { ">=" } else { "==" };
    writeln!(
        s,
        "_Static_assert(sizeof(struct {n}) {op} {}, \"{n}: size {op} {}\");",
        l.size, l.size
    )
    .unwrap();
    writeln!(
        s,
        "_Static_assert(_Alignof(struct {n}) == {}, \"{n}: align {}\");",
        l.align, l.align
    )
    .unwrap();
    for (f, off, size) in &l.fields {
        writeln!(
            s,
            "_Static_assert(offsetof(struct {n}, {f}) == {off} && sizeof(((struct {n} *)0)->{f}) == {size}, \"{n}.{f}: offset {off}, size {size}\");"
        )
        .unwrap();
    }
    s
}

fn c_source(decls: &[Decl], layouts: &[Layout]) -> String {
    let mut s =
        String::from("#include <stddef.h>\n#include <sys/types.h>\n#include <mmsync.h>\n\n");
    for d in decls {
        s.push_str(&fn_check(d));
    }
    for l in layouts {
        s.push_str(&layout_check(l));
    }
    s
}

fn include_dir() -> Option<PathBuf> {
    match env!("MMSYNC_RS_INCLUDE_DIR") {
        "" => None,
        d => Some(PathBuf::from(d)),
    }
}

/// Compiles `src` against the header; Err(compiler output) if it fails.
fn compile(tag: &str, src: &str) -> Result<(), String> {
    let inc = include_dir().expect("include dir");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let file = dir.join(format!("abi_{tag}_{}.c", std::process::id()));
    std::fs::write(&file, src).unwrap();
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let out = Command::new(cc)
        .args(["-std=gnu11", "-Wall", "-Werror", "-fsyntax-only", "-I"])
        .arg(&inc)
        .arg(&file)
        .output()
        .expect("running the C compiler");
    let _ = std::fs::remove_file(&file);
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn sys_decls() -> Vec<Decl> {
    parse(include_str!("../src/sys.rs"))
}

/// Skips (and says why) where the header is not known.
fn have_header(test: &str) -> bool {
    if include_dir().is_none() {
        eprintln!("SKIP {test}: build.rs found no mmsync.h (set MMSYNC_INCLUDE_DIR)");
        return false;
    }
    true
}

#[test]
fn declarations_match_the_header() {
    if !have_header("declarations_match_the_header") {
        return;
    }
    let decls = sys_decls();
    assert!(decls.len() >= 16, "parsed only {decls:?}");
    compile("fns", &c_source(&decls, &layouts())).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn every_function_the_crate_calls_is_checked() {
    let declared: Vec<String> = sys_decls().into_iter().map(|d| d.name).collect();
    let srcs = [
        include_str!("../src/lib.rs"),
        include_str!("../src/reader.rs"),
        include_str!("../src/writer.rs"),
        include_str!("../src/error.rs"),
    ];
    let mut called = 0;
    for src in srcs {
        for (at, _) in src.match_indices("sys::mmsync_") {
            let name: String = src[at + 5..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if name.starts_with("mmsync_") && !name.chars().next().unwrap().is_uppercase() {
                // Types (mmsync_view, ...) are checked by layout; calls here.
                if src[at + 5 + name.len()..].starts_with('(') {
                    assert!(declared.contains(&name), "{name} is called but not parsed");
                    called += 1;
                }
            }
        }
    }
    assert!(called >= 14, "found only {called} calls");
}

#[test]
fn a_wrong_declaration_fails() {
    if !have_header("a_wrong_declaration_fails") {
        return;
    }
    let good = sys_decls();
    let find = |n: &str| good.iter().position(|d| d.name == n).unwrap();
    type Mutate<'a> = Box<dyn Fn(&mut Vec<Decl>) + 'a>;
    let mutants: Vec<(&str, Mutate)> = vec![
        (
            "narrower length",
            Box::new(|d| d[find("mmsync_publish")].params[2] = "u32".into()),
        ),
        (
            "wrong return",
            Box::new(|d| d[find("mmsync_read_begin_ool")].ret = Some("u64".into())),
        ),
        (
            "const dropped",
            Box::new(|d| d[find("mmsync_reader_gen")].params[0] = "*mut mmsync_reader".into()),
        ),
        (
            "missing parameter",
            Box::new(|d| {
                d[find("mmsync_wait")].params.pop();
            }),
        ),
        (
            "wrong handle",
            Box::new(|d| d[find("mmsync_read_end_ool")].params[0] = "*mut mmsync_writer".into()),
        ),
        (
            "unknown function",
            Box::new(|d| {
                d.push(parse_fn(
                    "pub fn mmsync_no_such(r: *mut mmsync_reader) -> c_int",
                ))
            }),
        ),
    ];
    for (what, mutate) in mutants {
        let mut decls = good.clone();
        mutate(&mut decls);
        let err = compile("mutant", &c_source(&decls, &[]))
            .expect_err(&format!("a declaration with a {what} compiled"));
        assert!(err.contains("mmsync_"), "{what}: {err}");
    }
    let mut moved = layouts();
    moved[0].fields[1].1 += 8;
    compile("layout", &c_source(&[], &moved)).expect_err("a moved field compiled");
    let mut grown = layouts();
    grown[0].size += 8;
    compile("layout", &c_source(&[], &grown)).expect_err("a grown view compiled");
    // An options struct may be a prefix of the header's, not longer.
    let mut longer = layouts();
    longer[3].size += 8;
    compile("layout", &c_source(&[], &longer)).expect_err("a longer options struct compiled");
    let mut prefix = layouts();
    prefix[3].size -= 8;
    prefix[3].fields.pop();
    compile("layout", &c_source(&[], &prefix)).expect("a prefix of an options struct");
}

#[test]
fn the_parser_reads_multi_line_declarations() {
    let d = parse(
        "extern \"C\" {\n    // a comment; with a semicolon\n    pub fn f(\n        a: *mut *mut mmsync_writer,\n        b: usize,\n    ) -> c_int;\n    pub fn g(r: *const mmsync_reader);\n}",
    );
    assert_eq!(d.len(), 2);
    assert_eq!(d[0].params, ["*mut *mut mmsync_writer", "usize"]);
    assert_eq!(d[0].ret.as_deref(), Some("c_int"));
    assert_eq!(c_type(&d[0].params[0]), "struct mmsync_writer * *");
    assert_eq!(c_type("*const *mut c_void"), "void * const *");
    assert_eq!(d[1].ret, None);
}
