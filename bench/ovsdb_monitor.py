"""When did a change become visible? `ovsdb-client monitor` streams every change of the rows we
care about; a reader thread stamps each line with time.monotonic() as it arrives (no polling).
Shared by the benchmarks."""
import json
import subprocess
import threading
import time


class RowMonitor:
    """Follow `columns` of `table`; first_seen(key, predicate) is when a row first matched."""

    def __init__(self, remote, database, table, key_column, columns):
        self.columns = [key_column] + list(columns)
        self.rows = {}          # key -> list of (monotonic time, {column: value})
        self._lock = threading.Lock()
        self._proc = subprocess.Popen(
            ["ovsdb-client", "monitor", remote, database, table, ",".join(self.columns), "--format=json"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self._thread = threading.Thread(target=self._read, daemon=True)
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
                if values.get("action") in ("initial", "insert", "new"):
                    key = values.get(self.columns[0])
                    with self._lock:
                        self.rows.setdefault(key, []).append((now, values))

    def first_seen(self, key, predicate, since):
        with self._lock:
            for stamp, values in self.rows.get(key, ()):
                if stamp >= since and predicate(values):
                    return stamp
        return None

    def stop(self):
        self._proc.terminate()
        self._proc.wait(5)


def ovsdb_map(value):
    """["map", [[k, v], ...]] -> dict."""
    return dict(value[1]) if isinstance(value, list) and value and value[0] == "map" else {}


def ovsdb_set(value):
    """["set", [...]] or a single atom -> list."""
    if isinstance(value, list) and value and value[0] == "set":
        return value[1]
    if isinstance(value, list) and value and value[0] == "uuid":
        return [value]
    return []
