"""Start OVS/OVN daemons detached, each with its own pidfile and log, and stop them by pid.

Detached daemons are re-parented to PID 1, which may reap them late: a process that has exited
can still show in /proc as a zombie, so "alive" means present and not in state Z.
"""
import os
import signal
import subprocess
import time
from pathlib import Path


class SandboxError(RuntimeError):
    """A sandbox command or daemon failed; the message says which and why."""


def run(cmd, env=None, timeout=30, check=True, cwd=None):
    """Run a command, return its stdout; raise SandboxError with stderr when it fails."""
    try:
        proc = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, cwd=cwd, check=False)
    except subprocess.TimeoutExpired as exc:
        raise SandboxError("timed out after %ss: %s" % (timeout, " ".join(map(str, cmd)))) from exc
    if check and proc.returncode != 0:
        raise SandboxError("command failed (rc=%d): %s\n%s" % (
            proc.returncode, " ".join(map(str, cmd)), (proc.stderr or proc.stdout).strip()))
    return proc.stdout


def start_daemon(binary, args, rundir, name=None, env=None, unixctl=True):
    """Start `binary` detached with --pidfile/--log-file in `rundir`; return its pid.

    With --detach the command returns only once the daemon is initialised, so the pidfile is
    there and its control socket listens when this returns.
    """
    name = name or Path(binary).name
    rundir = Path(rundir)
    cmd = [binary] + list(args) + [
        "--detach", "--no-chdir", "-vconsole:off",
        "--pidfile=%s" % (rundir / (name + ".pid")),
        "--log-file=%s" % (rundir / (name + ".log")),
    ]
    if unixctl:
        cmd.append("--unixctl=%s" % (rundir / (name + ".ctl")))
    try:
        run(cmd, env=env, timeout=30)
    except SandboxError as exc:
        raise SandboxError("%s did not start: %s\n%s" % (name, exc, log_tail(rundir / (name + ".log")))) from exc
    return read_pid(rundir / (name + ".pid"))


def read_pid(pidfile):
    try:
        return int(Path(pidfile).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def log_tail(path, lines=15):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log at %s)" % path


def is_alive(pid, marker=None):
    """True while `pid` runs and is not a zombie; with `marker`, only if its command line holds it
    (so a reused pid of some other process never counts, and is never signalled)."""
    if not pid:
        return False
    try:
        stat = Path("/proc/%d/stat" % pid).read_text()
        if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return False
        if marker is not None:
            cmdline = Path("/proc/%d/cmdline" % pid).read_bytes().replace(b"\0", b" ").decode(errors="replace")
            return marker in cmdline
        return True
    except (OSError, IndexError):
        return False


def stop_pids(pids, marker=None, timeout=5.0):
    """SIGTERM each live pid, wait for all to go, SIGKILL what is left. Returns pids that survived."""
    live = [p for p in pids if is_alive(p, marker)]
    for pid in live:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while live and time.monotonic() < deadline:
        time.sleep(0.02)
        live = [p for p in live if is_alive(p, marker)]
    for pid in live:
        _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while live and time.monotonic() < deadline:
        time.sleep(0.02)
        live = [p for p in live if is_alive(p, marker)]
    return live


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
