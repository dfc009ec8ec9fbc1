"""Records, with its time, every change of the watched VMs' NB options, SB bindings, VMIM phases
and VMI node: the demo's timeline. Polls (10 ms) over one OVSDB connection per database and the
emulator's store, so nothing it does shows up as a change of its own."""
import threading
import time

from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import ovsdb

NB_KEYS = ("requested-chassis", "activation-strategy")
VMIMS, VMIS = "virtualmachineinstancemigrations", "virtualmachineinstances"


def _names(uuids, chassis):
    return [chassis.get(u, u) for u in uuids]


class Observer(threading.Thread):
    def __init__(self, nb_remote, sb_remote, emulator, interval=0.01):
        super().__init__(name="observer", daemon=True)
        self.remotes = (nb_remote, sb_remote)
        self.nb = self.sb = None
        self.emulator = emulator
        self.interval = interval
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.poll_lock = threading.Lock()   # one OVSDB request at a time per connection
        self.vms = []            # (namespace, vm)
        self.state = {}          # key -> value, last seen
        self.owner = {}          # key -> "namespace/vm" it belongs to
        self.events = []         # {"t", "source", "object", "field", "before", "after"}

    def watch(self, namespace, vm):
        with self.lock:
            if (namespace, vm) not in self.vms:
                self.vms.append((namespace, vm))
        self.poll()

    def note(self, source, obj, field, after, before=None, vm=None):
        """Add an event from outside (a probe result); vm is "namespace/vm"."""
        with self.lock:
            self.events.append({"t": time.time(), "source": source, "object": obj, "field": field,
                                "before": before, "after": after, "vm": vm})

    def timeline(self):
        with self.lock:
            return list(self.events)

    def run(self):
        while not self.stopping.wait(self.interval):
            try:
                self.poll()
            except Exception:   # a daemon restarting: keep the last state, try again
                time.sleep(0.1)

    def stop(self):
        self.stopping.set()
        with self.poll_lock:
            self._close()

    def poll(self):
        """One snapshot. The connections are opened on demand and re-opened once if the server
        dropped them (ovsdb-server closes a connection idle past its inactivity probe)."""
        with self.poll_lock:
            try:
                self._connect()
                self._poll()
            except ovsdb.OvsdbError:
                self._close()
                self._connect()
                self._poll()

    def _connect(self):
        if self.nb is None:
            self.nb = ovsdb.connect(self.remotes[0], "OVN_Northbound")
            self.sb = ovsdb.connect(self.remotes[1], "OVN_Southbound")

    def _close(self):
        for client in (self.nb, self.sb):
            if client is not None:
                client.close()
        self.nb = self.sb = None

    def _poll(self):
        with self.lock:
            vms = list(self.vms)
        if not vms:
            return
        now = time.time()
        seen = {}
        ports = []
        queries = [("Logical_Switch_Port", [["external_ids", "includes", ovsdb.encode_map({"pod": "%s/%s" % vm})]],
                    ["name", "options"]) for vm in vms]
        owners = {}
        for (namespace, vm), rows in zip(vms, self.nb.select_many(queries)):
            for row in rows:
                options = ovsdb.decode(row["options"])
                ports.append(row["name"])
                owners[row["name"]] = "%s/%s" % (namespace, vm)
                for key in NB_KEYS:
                    seen[("NB", row["name"], key)] = options.get(key)
        if ports:
            columns = ["logical_port", "chassis", "additional_chassis", "requested_additional_chassis", "options"]
            found = self.sb.select_many([("Chassis", [], ["_uuid", "name"])]
                                        + [("Port_Binding", [["logical_port", "==", p]], columns) for p in ports])
            chassis = {r["_uuid"][1]: r["name"] for r in found[0]}
            bindings = [row for rows in found[1:] for row in rows]
            for row in bindings:
                name = row["logical_port"]
                seen[("SB", name, "chassis")] = ",".join(_names(ovsdb.as_list(row["chassis"]), chassis)) or None
                seen[("SB", name, "additional_chassis")] = ",".join(_names(ovsdb.as_list(row["additional_chassis"]), chassis)) or None
                seen[("SB", name, "requested_additional_chassis")] = ",".join(
                    _names(ovsdb.as_list(row["requested_additional_chassis"]), chassis)) or None
                seen[("SB", name, "additional-chassis-activated")] = ovsdb.decode(row["options"]).get(
                    "additional-chassis-activated")
        for namespace, vm in vms:
            for vmim in self.emulator.list(VMIMS, namespace):
                if (vmim.get("spec") or {}).get("vmiName") != vm:
                    continue
                name = vmim["metadata"]["name"]
                seen[("K8s", "vmim/" + name, "phase")] = (vmim.get("status") or {}).get("phase") or "(created)"
                owners["vmim/" + name] = "%s/%s" % (namespace, vm)
                selector = "kubevirt.io/migrationJobUID=%s" % vmim["metadata"]["uid"]
                for pod in self.emulator.list("pods", namespace, label_selector=selector):
                    seen[("K8s", "target pod/" + name, "node")] = (pod.get("spec") or {}).get("nodeName")
                    owners["target pod/" + name] = "%s/%s" % (namespace, vm)
            vmi = self.emulator.get(VMIS, namespace, vm)
            if vmi is not None:
                seen[("K8s", "vmi/" + vm, "node")] = (vmi.get("status") or {}).get("nodeName")
                owners["vmi/" + vm] = "%s/%s" % (namespace, vm)
        with self.lock:
            for key, value in seen.items():
                self.owner.setdefault(key, owners.get(key[1]))
                before = self.state.get(key)
                if key not in self.state or before != value:
                    if key in self.state or value is not None:
                        self.events.append({"t": now, "source": key[0], "object": key[1], "field": key[2],
                                            "before": before, "after": value, "vm": self.owner.get(key)})
                    self.state[key] = value
            for key in list(self.state):
                if key[0] == "K8s" and key[1].startswith("vmim/") and key not in seen and self.state[key] != "(deleted)":
                    self.events.append({"t": now, "source": "K8s", "object": key[1], "field": "phase",
                                        "before": self.state[key], "after": "(deleted)", "vm": self.owner.get(key)})
                    self.state[key] = "(deleted)"
