# SPDX-License-Identifier: MIT
"""The example and the benchmark run, so that they never rot."""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)


def run(args, timeout=120):
    return subprocess.run([sys.executable, "-X", "dev", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_features_example(chan, np):
    out = run([os.path.join(TOP, "examples", "features.py"), "demo", chan])
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert sum("-> ok" in line for line in lines) == 3, out.stdout
    assert not any("WRONG" in line for line in lines)
    assert not os.path.exists(chan + "_state")  # the demo cleaned up


def test_benchmark_smoke(np):
    pytest.importorskip("lmdb", reason="no py-lmdb (python3-lmdb)")
    out = run([os.path.join(TOP, "bench", "bench_views.py"), "--quick"],
              timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "| 4 KiB | open+close |" in out.stdout
    assert "| 64 MiB | bytes->numpy |" in out.stdout
