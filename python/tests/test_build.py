# SPDX-License-Identifier: MIT
"""The suite tests what this checkout built, and the package is complete."""
import ast
import inspect
import os

import pytest

import mmsync
from mmsync import _mmsync


def _mapped_libmmsync():
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "libmmsync.so" in line}
    return paths


def test_extension_from_build_tree():
    want = os.environ.get("MMSYNC_PY_PATH")
    if not want:
        pytest.skip("not run through build/<variant>/tests/python")
    assert os.path.realpath(_mmsync.__file__).startswith(
        os.path.realpath(want) + os.sep)


def test_library_from_build_tree():
    want = os.environ.get("MMSYNC_PY_LIBDIR")
    if not want:
        pytest.skip("not run through build/<variant>/tests/python")
    paths = _mapped_libmmsync()
    assert paths, "libmmsync.so is not mapped"
    for p in paths:
        assert os.path.dirname(os.path.realpath(p)) == os.path.realpath(want)


def test_stable_abi_extension():
    assert _mmsync.__file__.endswith(".abi3.so")


def test_public_names_and_docstrings():
    for name in mmsync.__all__:
        obj = getattr(mmsync, name)
        if callable(obj):
            assert obj.__doc__, name
    for cls in (mmsync.Reader, mmsync.Writer, mmsync.View,
                mmsync.Reservation):
        for attr, val in vars(cls).items():
            if attr.startswith("_"):
                continue
            assert getattr(val, "__doc__", None), "%s.%s" % (
                cls.__name__, attr)


def _stub_tree():
    path = os.path.join(os.path.dirname(mmsync.__file__), "__init__.pyi")
    if not os.path.exists(path):
        pytest.skip("no __init__.pyi next to the package")
    with open(path) as f:
        return ast.parse(f.read())


def test_stubs_match_the_module():
    tree = _stub_tree()
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    funcs = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    for name in mmsync.__all__:
        obj = getattr(mmsync, name)
        if inspect.isclass(obj):
            assert name in classes, name
        elif callable(obj):
            assert name in funcs, name
    for name in ("Reader", "Writer", "View", "Reservation"):
        cls = getattr(mmsync, name)
        stubbed = {n.name for n in classes[name].body
                   if isinstance(n, ast.FunctionDef)}
        public = {a for a in vars(cls) if not a.startswith("_")}
        assert public <= stubbed, (name, public - stubbed)
        assert {a for a in stubbed if not a.startswith("_")} <= public
    for name in ("Stats", "ReaderInfo", "PublishInfo"):
        fields = [n.target.id for n in classes[name].body
                  if isinstance(n, ast.AnnAssign)]
        assert fields == list(getattr(mmsync, name).__match_args__), name


def test_objects_are_not_picklable(chan):
    import pickle

    with mmsync.Writer(chan) as w, mmsync.Reader(chan) as r:
        w.publish(b"x")
        with r.view() as v:
            for obj in (w, r, v):
                with pytest.raises(TypeError):
                    pickle.dumps(obj)


def test_views_and_reservations_cannot_be_made_directly():
    with pytest.raises(TypeError):
        mmsync.View()
    with pytest.raises(TypeError):
        mmsync.Reservation()


def test_run_mode():
    """make check runs the suite in dev mode; the ASan variant under the
    ASan runtime, with the debug allocator hooks."""
    import sys

    if not os.environ.get("MMSYNC_PY_PATH"):
        pytest.skip("not run through build/<variant>/tests/python")
    assert sys.flags.dev_mode
    if "address" not in os.environ.get("MMSYNC_PY_SANITIZE", ""):
        return
    with open("/proc/self/maps") as f:
        maps = f.read()
    assert "libasan.so" in maps
    assert os.environ.get("PYTHONMALLOC") in ("debug", "malloc_debug")


def test_sanitizer_is_armed():
    """Under SANITIZE=address a use-after-free in this interpreter setup
    is caught (the run would abort), so a clean run means something."""
    import subprocess
    import sys

    if "address" not in os.environ.get("MMSYNC_PY_SANITIZE", ""):
        pytest.skip("not an ASan build")
    code = ("import ctypes; libc = ctypes.CDLL(None); "
            "libc.malloc.restype = ctypes.c_void_p; "
            "libc.free.argtypes = [ctypes.c_void_p]; "
            "p = libc.malloc(64); libc.free(p); ctypes.string_at(p, 64)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode != 0
    assert "heap-use-after-free" in out.stderr
