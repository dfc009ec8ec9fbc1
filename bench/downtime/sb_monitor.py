"""When did SB bind a port on a chassis? A RowMonitor on Port_Binding, read by chassis name."""
from ovn_sandbox.ovsdb_json import rows

from ..ovsdb_monitor import RowMonitor, ovsdb_set


class BindingMonitor:
    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.chassis = {}           # chassis name -> uuid
        self._rows = RowMonitor(sandbox.sb_unix, "OVN_Southbound", "Port_Binding", "logical_port",
                                ["chassis", "additional_chassis"])

    def chassis_uuid(self, name):
        if name not in self.chassis:
            for row in rows(self.sandbox.sbctl("--format=json", "--columns=_uuid,name", "list", "Chassis")):
                self.chassis[row["name"]] = row["_uuid"]
        return self.chassis[name]

    def first_bound(self, lsp, chassis_name, since):
        """The first instant at or after `since` when SB bound `lsp` (main or additional) on the chassis."""
        uuid = ["uuid", self.chassis_uuid(chassis_name)]
        return self._rows.first_seen(
            lsp, lambda v: uuid in ovsdb_set(v.get("chassis")) + ovsdb_set(v.get("additional_chassis")), since)

    def first_dual(self, lsp, chassis_name, since):
        """The first instant at or after `since` when SB bound `lsp` on the chassis as additional (prepare)."""
        uuid = ["uuid", self.chassis_uuid(chassis_name)]
        return self._rows.first_seen(lsp, lambda v: uuid in ovsdb_set(v.get("additional_chassis")), since)

    def first_alone(self, lsp, chassis_name, since):
        """The first instant at or after `since` when SB bound `lsp` on the chassis alone (cutover)."""
        uuid = ["uuid", self.chassis_uuid(chassis_name)]
        return self._rows.first_seen(
            lsp, lambda v: ovsdb_set(v.get("chassis")) == [uuid] and not ovsdb_set(v.get("additional_chassis")), since)

    def stop(self):
        self._rows.stop()
