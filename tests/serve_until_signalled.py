"""The run loop of the test environments' commands (`python -m k8s_emulator`, `python -m kubevirt_sim`):
record the pid, announce readiness, wait for SIGTERM or SIGINT, stop the service, remove the pidfile."""
import os
import signal
import sys
import threading


def serve_until_signalled(stop, pidfile=None, ready_line=None):
    """Block until SIGTERM/SIGINT, then call stop(); `pidfile` holds our pid meanwhile.

    `ready_line` goes to stdout only once the pidfile and the signal handlers are in place, so a
    caller that waits for it can read the pidfile and signal us at once."""
    if pidfile:
        with open(pidfile, "w") as handle:
            handle.write("%d\n" % os.getpid())
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_unused: done.set())
    signal.signal(signal.SIGINT, lambda *_unused: done.set())
    if ready_line:
        sys.stdout.write(ready_line + "\n")
        sys.stdout.flush()
    while not done.wait(1):
        pass
    stop()
    if pidfile and os.path.exists(pidfile):
        os.unlink(pidfile)
