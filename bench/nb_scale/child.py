"""Run one fresh child process and get its wall time and peak memory.

Peak memory is the child's ru_maxrss as its parent's wait4() reports it: the largest RSS of the
child and of every descendant it waited for (ansible's workers and the module's interpreter
included). Linux counts a child's RSS from before its exec() too, when it was a copy of its
parent, so a large parent would inflate every figure: the parent must be small. We use
`/usr/bin/time` (C, about 2 MB) when installed, else a bare `python -I -S` launcher (about 7 MB,
which then is the floor of every figure). `meter()` names the one in use.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GNU_TIME = "/usr/bin/time"
LAUNCHER = Path(__file__).resolve().with_name("rusage_launcher.py")


class ChildResult(object):
    def __init__(self, argv, returncode, seconds, maxrss_kb, stdout, stderr):
        self.argv = argv
        self.returncode = returncode
        self.seconds = seconds
        self.maxrss_kb = maxrss_kb
        self.stdout = stdout
        self.stderr = stderr

    def check(self):
        if self.returncode != 0:
            raise RuntimeError("exit status %d: %s\n%s%s" % (self.returncode, " ".join(self.argv), self.stdout, self.stderr))
        return self


def meter():
    if os.access(GNU_TIME, os.X_OK):
        return "%s (its child's ru_maxrss)" % GNU_TIME
    return "python -I -S %s (ru_maxrss from wait4; about 7 MB floor)" % LAUNCHER.name


def metered(argv, report):
    """argv run under the memory meter, which writes the peak RSS in KiB as the last line of `report`."""
    if os.access(GNU_TIME, os.X_OK):
        return [GNU_TIME, "-f", "%M", "-o", report] + argv
    return [sys.executable, "-I", "-S", str(LAUNCHER), report] + argv


def run_child(argv, env, timeout=120.0):
    argv = [str(a) for a in argv]
    with tempfile.TemporaryDirectory(prefix="nb-scale-child-") as tmp:
        report = os.path.join(tmp, "maxrss")
        out_path, err_path = os.path.join(tmp, "out"), os.path.join(tmp, "err")
        with open(out_path, "w") as out, open(err_path, "w") as err:
            start = time.perf_counter()
            # A session of its own: on timeout the meter and the command go together, by group id.
            proc = subprocess.Popen(metered(argv, report), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    env=env, start_new_session=True)
            try:
                rc = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise RuntimeError("timed out after %.0f s: %s" % (timeout, " ".join(argv)))
            seconds = time.perf_counter() - start
        with open(out_path) as out, open(err_path) as err:
            stdout, stderr = out.read(), err.read()
        maxrss = 0
        if os.path.exists(report):
            with open(report) as f:
                lines = f.read().split()
            maxrss = int(lines[-1]) if lines and lines[-1].isdigit() else 0
        return ChildResult(argv, rc, seconds, maxrss, stdout, stderr)
