# SPDX-License-Identifier: MIT
"""Build the mmsync extension (the metadata is in pyproject.toml).

Where libmmsync comes from, in this order:
  1. MMSYNC_INCLUDE_DIR / MMSYNC_LIB_DIR, if set (the library directory
     is also the extension's rpath);
  2. unless MMSYNC_PKG_CONFIG=1: the checkout this directory belongs to,
     if `make` has built it (../include, ../build/default, with an rpath
     to that build directory);
  3. pkg-config libmmsync (an installed library: `make install`).
"""
import os
import shlex
import subprocess

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args, "libmmsync"], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return shlex.split(out)


def locate():
    inc = os.environ.get("MMSYNC_INCLUDE_DIR")
    lib = os.environ.get("MMSYNC_LIB_DIR")
    if inc or lib:
        return ([inc] if inc else []), ([lib] if lib else []), \
            ([lib] if lib else [])
    tree_inc = os.path.join(TOP, "include")
    tree_lib = os.path.join(TOP, "build", "default")
    if os.environ.get("MMSYNC_PKG_CONFIG") != "1" and \
            os.path.exists(os.path.join(tree_inc, "mmsync.h")) and \
            os.path.exists(os.path.join(tree_lib, "libmmsync.so")):
        return [tree_inc], [tree_lib], [tree_lib]
    cflags = pkg_config("--cflags-only-I")
    libs = pkg_config("--libs-only-L")
    if cflags is None or libs is None:
        raise SystemExit(
            "mmsync: libmmsync not found: run `make` in the checkout "
            "(../build/default), `make install` it (pkg-config libmmsync), "
            "or set MMSYNC_INCLUDE_DIR and MMSYNC_LIB_DIR")
    return [f[2:] for f in cflags], [f[2:] for f in libs], []


include_dirs, library_dirs, rpath = locate()
sources = sorted(os.path.join("ext", f) for f in os.listdir(
    os.path.join(HERE, "ext")) if f.endswith(".c"))

setup(
    ext_modules=[Extension(
        "mmsync._mmsync",
        sources=sources,
        depends=[os.path.join("ext", "pymmsync.h")],
        include_dirs=include_dirs,
        library_dirs=library_dirs,
        runtime_library_dirs=rpath,
        libraries=["mmsync"],
        define_macros=[("Py_LIMITED_API", "0x030B0000")],
        extra_compile_args=["-std=gnu11", "-fvisibility=hidden"],
        py_limited_api=True,
    )],
    # Always recompile: pip builds in python/build/, and an extension left
    # there by an earlier build may be linked against another libmmsync.
    options={"bdist_wheel": {"py_limited_api": "cp311"},
             "build_ext": {"force": True}},
)
