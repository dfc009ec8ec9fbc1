"""One OVN Northbound ovsdb-server in a directory of its own: no northd, no SB, no hypervisors.

Nothing else is needed to measure a prepare: the modules talk to the NB only (verify_chassis off).
The server listens on a loopback TCP port the kernel picks, as a real NB listens on TCP.
"""
import re
import time
from pathlib import Path

from . import paths

paths.use_test_helpers()
from ovn_sandbox.daemons import SandboxError, is_alive, run, start_daemon, stop_pids  # noqa: E402  pylint: disable=wrong-import-position

NB_SCHEMA = "/usr/share/ovn/ovn-nb.ovsschema"


class NbServer(object):
    def __init__(self, workdir):
        self.dir = Path(workdir).resolve() / "ovn-nb"
        self.pid = None
        self.remote = None

    def start(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        db = self.dir / "ovn-nb.db"
        if db.exists():
            db.unlink()
        run(["ovsdb-tool", "create", db, NB_SCHEMA])
        self.pid = start_daemon("ovsdb-server", ["--remote=ptcp:0:127.0.0.1", db], self.dir)
        self.remote = "tcp:127.0.0.1:%d" % self._listening_port()
        return self

    def stop(self):
        """Stop the server by pid (only if its command line names our directory)."""
        if self.pid and stop_pids([self.pid], marker=str(self.dir)):
            raise SandboxError("ovsdb-server pid %d in %s did not stop" % (self.pid, self.dir))

    def alive(self):
        return is_alive(self.pid, marker=str(self.dir))

    def rss_kb(self):
        """The server's resident memory now, in KiB (context for the table, not a measured figure)."""
        for line in Path("/proc/%d/status" % self.pid).read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _listening_port(self, timeout=10.0):
        log = self.dir / "ovsdb-server.log"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(r"listening on port (\d+)", log.read_text() if log.exists() else "")
            if match:
                return int(match.group(1))
            time.sleep(0.01)
        raise SandboxError("ovsdb-server in %s did not report its TCP port in %s" % (self.dir, log))
