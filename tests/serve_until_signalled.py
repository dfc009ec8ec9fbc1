"""The run loop of the test environments' commands (`python -m k8s_emulator`, `python -m kubevirt_sim`):
record the pid, wait for SIGTERM or SIGINT, stop the service, remove the pidfile."""
import os
import signal
import threading


def serve_until_signalled(stop, pidfile=None):
    """Block until SIGTERM/SIGINT, then call stop(); `pidfile` holds our pid meanwhile."""
    if pidfile:
        with open(pidfile, "w") as handle:
            handle.write("%d\n" % os.getpid())
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_unused: done.set())
    signal.signal(signal.SIGINT, lambda *_unused: done.set())
    while not done.wait(1):
        pass
    stop()
    if pidfile and os.path.exists(pidfile):
        os.unlink(pidfile)
