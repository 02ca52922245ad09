# SPDX-License-Identifier: MIT
"""pytest plugin: report as kselftest TAP, what tests/run.sh counts.

    1..N                    once collection is done
    ok N nodeid             passed
    ok N nodeid # SKIP why  skipped (also expected failures, never passes)
    not ok N nodeid         failed, preceded by its report as '# ' lines

Loaded with `-p tap_plugin -p no:terminal` by python/tests/run.sh: the
terminal reporter's progress dots would share lines with the TAP ones.
"""
import sys

import pytest

_out = sys.stdout
_state = {"n": 0, "errors": [], "counts": {}, "reports": {}}


def _emit(line):
    _out.write(line + "\n")
    _out.flush()


def _comment(text):
    for line in str(text).splitlines():
        _emit("# " + line)


def _count(kind):
    _state["counts"][kind] = _state["counts"].get(kind, 0) + 1


# Options the terminal reporter would have defined, which other plugins
# (assertion rewriting, failure reports) read: its defaults, but short
# tracebacks, which keep a failure near its "not ok" line (tests/run.sh
# shows the 30 lines before it).
_TERMINAL_DEFAULTS = {
    "verbose": 0, "tbstyle": "short", "showlocals": False,
    "fulltrace": False, "reportchars": "fE", "color": "no",
    "code_highlight": "no", "disable_warnings": False,
}


def pytest_configure(config):
    for name, value in _TERMINAL_DEFAULTS.items():
        if not hasattr(config.option, name):
            setattr(config.option, name, value)
    if config.option.tbstyle == "auto":
        config.option.tbstyle = "short"


def pytest_collectreport(report):
    if report.failed:
        _state["errors"].append(report)


def pytest_collection_finish(session):
    errors = _state["errors"]
    _emit("1..%d" % (len(session.items) + len(errors)))
    for rep in errors:
        _state["n"] += 1
        _comment(rep.longreprtext)
        _emit("not ok %d collect %s" % (_state["n"], rep.nodeid or "."))
        _count("failed")


def _skip_reason(rep):
    if hasattr(rep, "wasxfail"):
        return "expected failure: " + (rep.wasxfail or "xfail")
    lr = rep.longrepr
    if isinstance(lr, tuple) and len(lr) == 3:
        return str(lr[2]).removeprefix("Skipped: ")
    return str(lr)


def pytest_runtest_logreport(report):
    reps = _state["reports"].setdefault(report.nodeid, [])
    reps.append(report)
    if report.when != "teardown":
        return
    del _state["reports"][report.nodeid]
    _state["n"] += 1
    n, name = _state["n"], report.nodeid
    failed = [r for r in reps if r.failed]
    skipped = [r for r in reps if r.skipped]
    if failed:
        for r in failed:
            _comment("---- %s (%s)" % (name, r.when))
            _comment(r.longreprtext)
            for title, text in r.sections:
                _comment("---- " + title)
                _comment(text)
        _emit("not ok %d %s" % (n, name))
        _count("failed")
    elif skipped:
        reason = " ".join(_skip_reason(skipped[0]).split())
        _emit("ok %d %s # SKIP %s" % (n, name, reason))
        _count("skipped")
    else:
        _emit("ok %d %s" % (n, name))
        _count("passed")


def pytest_warning_recorded(warning_message, when, nodeid, location):
    _comment("warning (%s %s): %s: %s" % (
        when, nodeid, warning_message.category.__name__,
        warning_message.message))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    c = _state["counts"]
    _comment("pytest: %d passed, %d failed, %d skipped (exit status %s)" % (
        c.get("passed", 0), c.get("failed", 0), c.get("skipped", 0),
        int(exitstatus)))
