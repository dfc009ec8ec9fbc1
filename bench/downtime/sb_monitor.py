"""When did SB bind a port on a chassis? `ovsdb-client monitor` streams every change of the
Port_Binding rows; a reader thread stamps each update with time.monotonic() as it arrives."""
import json
import subprocess
import threading
import time

from ovn_sandbox.ovsdb_json import rows

COLUMNS = ("logical_port", "chassis", "additional_chassis")


def uuids(value):
    """An OVSDB reference column as JSON (["uuid", u], ["set", [...]] or empty) -> list of uuids."""
    if isinstance(value, list) and value and value[0] == "uuid":
        return [value[1]]
    if isinstance(value, list) and value and value[0] == "set":
        return [v[1] for v in value[1]]
    return []


class BindingMonitor:
    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.chassis = {}           # chassis name -> uuid
        self._seen = {}             # lsp -> [(monotonic, set of chassis uuids: main + additional)]
        self._lock = threading.Lock()
        self._proc = subprocess.Popen(
            ["ovsdb-client", "monitor", sandbox.sb_unix, "OVN_Southbound", "Port_Binding", ",".join(COLUMNS),
             "--format=json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self._thread = threading.Thread(target=self._read, name="sb-monitor", daemon=True)
        self._thread.start()

    def _read(self):
        for line in self._proc.stdout:
            now = time.monotonic()
            try:
                update = json.loads(line)
            except ValueError:
                continue
            headings = update.get("headings") or []
            for row in update.get("data") or []:
                values = dict(zip(headings, row))
                if values.get("action") not in ("initial", "insert", "new"):
                    continue
                bound = set(uuids(values.get("chassis"))) | set(uuids(values.get("additional_chassis")))
                with self._lock:
                    self._seen.setdefault(values.get("logical_port"), []).append((now, bound))

    def chassis_uuid(self, name):
        if name not in self.chassis:
            for row in rows(self.sandbox.sbctl("--format=json", "--columns=_uuid,name", "list", "Chassis")):
                self.chassis[row["name"]] = row["_uuid"]
        return self.chassis[name]

    def first_bound(self, lsp, chassis_name, since):
        """The first instant at or after `since` when SB bound `lsp` (main or additional) on the chassis."""
        uuid = self.chassis_uuid(chassis_name)
        with self._lock:
            for stamp, bound in self._seen.get(lsp, ()):
                if stamp >= since and uuid in bound:
                    return stamp
        return None

    def stop(self):
        self._proc.terminate()
        self._proc.wait(5)
