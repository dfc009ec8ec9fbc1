"""KubevirtSim: watches VMIMs (and VMIs) over the Kubernetes API and plays KubeVirt for them."""
import itertools
import logging
import threading
import time

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from .dataplane import OvnDataPlane
from .kube_ovn import KubeOvnController
from .migration import MigrationRun
from .virt_api import VirtApi, migratable
from .objects import (EVACUATION_ANNOTATION, GROUP, NODE_LABEL, PHASES, VERSION, VMIMS, VMIS, VMS, disruption_budget,
                      launcher_pod, options_from_metadata, owner_reference, random_mac, vm_body, vmi_body, vmi_status)

LOG = logging.getLogger(__name__)
DEFAULT_NODES = ("hv1", "hv2", "hv3")


class KubevirtSim:
    def __init__(self, api_client, ovn=None, step_delay=0.05, cni_timeout=None, nodes=None, pinned_start=False,
                 kube_ovn=True, eviction_strategy=None):
        """With an OVN sandbox (`ovn`), Kube-OVN's controller is played too (kube_ovn.py): VM ports start
        unpinned and lose both owned keys whenever a pod of their VM goes. pinned_start=True pins a VM's
        ports to its node at start (the simulator's old shortcut, for tests that need a fixed binding);
        kube_ovn=False leaves Kube-OVN's wipes and annotation writes out. eviction_strategy: the
        cluster-wide one (KubeVirt CR spec.configuration.evictionStrategy; "LiveMigrate" as
        HyperConverged sets it): with one, virt-api's eviction webhook (virt_api.py) is served and
        each VMI gets its PodDisruptionBudget, so `kubectl drain` migrates VMs as on a cluster."""
        self.core = client.CoreV1Api(api_client)
        self.policy = client.PolicyV1Api(api_client)
        self.eviction_strategy = eviction_strategy
        self.virt_api = VirtApi(api_client, eviction_strategy) if eviction_strategy else None
        self._evacuations = set()         # uids of the VMIs given an evacuation migration
        self.custom = client.CustomObjectsApi(api_client)
        self.dataplane = OvnDataPlane(ovn) if ovn is not None else None
        self.pinned_start = pinned_start
        self.kube_ovn = KubeOvnController(api_client, ovn) if ovn is not None and kube_ovn else None
        self.step_delay = step_delay
        self.cni_timeout = cni_timeout
        self.nodes = list(nodes or (self.dataplane.nodes if self.dataplane else DEFAULT_NODES))
        self.stopping = threading.Event()
        self.errors = []                  # (vmim name, exception) raised inside migrations
        self._lock = threading.RLock()
        self._runs = {}                   # vmim uid -> MigrationRun
        self._pending = {}                # vmim uid -> options given to migrate()
        self._config = {}                 # (namespace, vmi) -> options from configure()
        self._holds = {}                  # (namespace, vmim name) -> threading.Event
        self._ports = {}                  # (namespace, vmi) -> [{"name", "mac", "ip"}]
        self._watches = []
        self._seq = itertools.count()
        self._started = set()             # VMI uids started (by create_vmi or seen new on the watch)
        self._threads = []

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self):
        self.stopping.clear()
        for node in self.nodes:
            self.ensure_node(node)
        if self.kube_ovn:
            self.kube_ovn.start()
        if self.virt_api:
            self.virt_api.start()
        for plural, handler in ((VMIMS, self._on_vmim), (VMIS, self._on_vmi)):
            thread = threading.Thread(target=self._watch_loop, args=(plural, handler), name="sim-watch-" + plural,
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self):
        self.stopping.set()
        deadline = time.monotonic() + 10
        # A watch stopped just before its request starts forgets the stop: repeat until all exit.
        while any(t.is_alive() for t in self._threads) and time.monotonic() < deadline:
            for stream in list(self._watches):
                stream.stop()
            for thread in self._threads:
                thread.join(0.05)
        for run in list(self._runs.values()):
            run.join(5)
        self._threads = []
        if self.kube_ovn:
            self.kube_ovn.stop()
        if self.virt_api:
            self.virt_api.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _watch_loop(self, plural, handler):
        """List then watch from the list's resourceVersion; resume after cuts, re-list after 410."""
        rv = None
        while not self.stopping.is_set():
            try:
                if rv is None:
                    listed = self.custom.list_cluster_custom_object(GROUP, VERSION, plural)
                    rv = listed["metadata"]["resourceVersion"]
                    for item in listed["items"]:
                        handler("ADDED", item)
                stream = watch.Watch()
                self._watches.append(stream)
                try:
                    for event in stream.stream(self.custom.list_cluster_custom_object, GROUP, VERSION, plural,
                                               resource_version=rv, timeout_seconds=5, allow_watch_bookmarks=True):
                        if self.stopping.is_set():
                            break
                        rv = event["raw_object"]["metadata"]["resourceVersion"]
                        if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                            handler(event["type"], event["raw_object"])
                finally:
                    self._watches.remove(stream)
            except ApiException as exc:
                if exc.status == 410:
                    rv = None
                else:
                    self.stopping.wait(0.2)
            except Exception:   # connection cut or emulator restarting: retry from the same version
                if not self.stopping.is_set():
                    LOG.debug("watch on %s interrupted", plural, exc_info=True)
                self.stopping.wait(0.1)

    # ---- events ---------------------------------------------------------------------------
    def _on_vmim(self, type_, vmim):
        meta = vmim["metadata"]
        with self._lock:
            run = self._runs.get(meta["uid"])
            if type_ == "DELETED" or meta.get("deletionTimestamp"):
                if run:
                    run.abort()
                return
            if run or (vmim.get("status") or {}).get("phase"):
                return
            vmi = (vmim.get("spec") or {}).get("vmiName")
            # Precedence: migrate() arguments, the VMIM's sim labels, configure(), the VMI's sim labels.
            options = {k: v for k, v in self._config.get((meta["namespace"], vmi), {}).items() if v is not None}
            options.update(options_from_metadata(vmim))
            options.update({k: v for k, v in self._pending.pop(meta["uid"], {}).items() if v is not None})
            run = MigrationRun(self, vmim, options, seq=next(self._seq))
            self._runs[meta["uid"]] = run
        run.start()

    def _on_vmi(self, type_, vmi):
        """A VMI someone else created (no status yet) starts on its nodeSelector's host or the first node."""
        self._evacuate(type_, vmi)
        if type_ != "ADDED" or (vmi.get("status") or {}).get("phase"):
            return
        with self._lock:
            if vmi["metadata"]["uid"] in self._started:
                return
            self._started.add(vmi["metadata"]["uid"])
            ports = self._discover_ports(vmi["metadata"]["namespace"], vmi["metadata"]["name"])
            self._ports[(vmi["metadata"]["namespace"], vmi["metadata"]["name"])] = ports
        selector = (vmi.get("spec") or {}).get("nodeSelector") or {}
        node = selector.get("kubernetes.io/hostname") or self.nodes[0]
        try:
            self._start_vmi(vmi, node, ports)
        except ApiException as exc:
            if exc.status not in (404, 409):
                self.record_error(None, exc)

    def _evacuate(self, type_, vmi):
        """virt-controller's evacuation controller: a VMI virt-api marked for evacuation off the node it
        runs on (status.evacuationNodeName) gets a migration, unless one is already in flight; the
        migration's success clears the mark."""
        status, meta = vmi.get("status") or {}, vmi["metadata"]
        node = status.get("evacuationNodeName")
        with self._lock:
            if type_ == "DELETED" or not node or node != status.get("nodeName") or not migratable(vmi):
                self._evacuations.discard(meta["uid"])
                return
            busy = any(not run.finished.is_set() and (run.namespace, run.vmi_name) == (meta["namespace"], meta["name"])
                       for run in self._runs.values())
            if busy or meta["uid"] in self._evacuations:
                return
            self._evacuations.add(meta["uid"])
        body = {"apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "VirtualMachineInstanceMigration",
                "metadata": {"generateName": "kubevirt-evacuation-", "namespace": meta["namespace"],
                             "annotations": {EVACUATION_ANNOTATION: node}},
                "spec": {"vmiName": meta["name"]}}
        try:
            self.custom.create_namespaced_custom_object(GROUP, VERSION, meta["namespace"], VMIMS, body)
        except ApiException as exc:
            with self._lock:
                self._evacuations.discard(meta["uid"])
            self.record_error(None, exc)

    # ---- VMIs and pods --------------------------------------------------------------------
    def create_vmi(self, namespace, name, node, ports=None):
        """Create a running VMI on `node` with its virt-launcher pod; ports: [{"name", "mac"}] are
        OVN LSPs (with an OVN sandbox they are plugged on `node`). Returns the VMI dict."""
        return self._create_vmi(namespace, name, node, ports)

    def create_vm(self, namespace, name, node, ports=None, annotations=None):
        """Create a VirtualMachine (runStrategy Always) and start its VMI on `node` as virt-controller
        does: the VMI takes the VM's name, the template's metadata and spec, and the VM as controller
        owner. `annotations` go on the template. Returns the VMI dict."""
        return self._create_vmi(namespace, name, node, ports, vm_annotations=annotations or {})

    def _create_vmi(self, namespace, name, node, ports, vm_annotations=None):
        self.ensure_node(node)
        ports = [dict(p) for p in ports] if ports else self._discover_ports(namespace, name)
        body = vmi_body(namespace, name, ports)
        if vm_annotations is not None:
            vm = self.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, VMS, vm_body(body, vm_annotations))
            body["metadata"].update(annotations=dict(vm_annotations), ownerReferences=[owner_reference(vm)])
        with self._lock:
            vmi = self.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, VMIS, body)
            self._started.add(vmi["metadata"]["uid"])   # before the watch thread can see it
            self._ports[(namespace, name)] = ports
        return self._start_vmi(vmi, node, ports)

    def _start_vmi(self, vmi, node, ports):
        """What virt-controller and virt-handler do to start a VMI: launcher pod, NICs, status."""
        namespace, name = vmi["metadata"]["namespace"], vmi["metadata"]["name"]
        pod = self.core.create_namespaced_pod(namespace, launcher_pod(vmi))
        pod_name = pod.metadata.name
        self.bind_pod(namespace, pod_name, node)
        if self.dataplane and ports:
            if self.pinned_start:
                self.dataplane.pin(node, ports)
            self.dataplane.plug(node, ports)
        self.core.patch_namespaced_pod_status(pod_name, namespace, {"status": {"phase": "Running"}})
        if self.eviction_strategy or (vmi.get("spec") or {}).get("evictionStrategy"):
            self.policy.create_namespaced_pod_disruption_budget(namespace, disruption_budget(vmi))
        pod_obj = {"metadata": {"uid": pod.metadata.uid}}
        self.custom.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, VMIS, name,
                                                          {"status": vmi_status(node, ports, pod_obj)})
        return self.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, VMIS, name,
                                                          {"metadata": {"labels": {NODE_LABEL: node}}})

    def vm_ports(self, namespace, vmi):
        """The VM's NICs as the sim started it (or discovered now)."""
        with self._lock:
            known = self._ports.get((namespace, vmi))
        return known or self._discover_ports(namespace, vmi)

    def _discover_ports(self, namespace, vmi):
        """Its Kube-OVN LSPs in the sandbox's NB, else one made-up NIC."""
        if self.dataplane:
            found = self.dataplane.discover_ports(namespace, vmi)
            if found:
                return found
        return [{"name": "%s.%s" % (vmi, namespace), "mac": random_mac()}]

    def ensure_node(self, node):
        if node not in self.nodes:
            self.nodes.append(node)
        try:
            self.core.create_node({"apiVersion": "v1", "kind": "Node",
                                   "metadata": {"name": node, "labels": {"kubernetes.io/hostname": node,
                                                                         "kubevirt.io/schedulable": "true"}}})
        except ApiException as exc:
            if exc.status != 409:
                raise

    def bind_pod(self, namespace, pod, node):
        """Schedule as kube-scheduler does. The API answers a Status, which the client cannot read
        as the Binding it expects: take the raw response."""
        self.core.create_namespaced_pod_binding(pod, namespace, {
            "apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}}, _preload_content=False).release_conn()

    def active_pod_name(self, vmi):
        active = (vmi.get("status") or {}).get("activePods") or {}
        pods = self.core.list_namespaced_pod(vmi["metadata"]["namespace"],
                                             label_selector="kubevirt.io/created-by=%s" % vmi["metadata"]["uid"])
        for pod in pods.items:
            if pod.metadata.uid in active:
                return pod.metadata.name
        return None

    def pick_target_node(self, source):
        names = sorted(n.metadata.name for n in self.core.list_node().items if not (n.spec and n.spec.unschedulable))
        others = [n for n in names if n != source]
        return others[0] if others else None

    # ---- migrations -----------------------------------------------------------------------
    @staticmethod
    def _check_phase(option, phase):
        if phase is not None and phase not in PHASES:
            raise ValueError("%s must be one of %s, not %r" % (option, ", ".join(PHASES), phase))

    def migrate(self, namespace, vmi, target_node=None, fail_at=None, name=None):
        """Create a VMIM for `vmi` (as virtctl migrate does) and return it."""
        self._check_phase("fail_at", fail_at)
        meta = {"namespace": namespace}
        if name:
            meta["name"] = name
        else:
            meta["generateName"] = "kubevirt-migrate-vm-"
        body = {"apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "VirtualMachineInstanceMigration",
                "metadata": meta, "spec": {"vmiName": vmi}}
        with self._lock:   # the watch thread waits for this lock: the options are in place first
            created = self.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, VMIMS, body)
            self._pending[created["metadata"]["uid"]] = {"target_node": target_node, "fail_at": fail_at}
        return created

    def configure(self, namespace, vmi, target_node=None, fail_at=None, hold_at=None):
        """Options for every later migration of `vmi`, whoever creates its VMIM."""
        self._check_phase("fail_at", fail_at)
        self._check_phase("hold_at", hold_at)
        with self._lock:
            self._config[(namespace, vmi)] = {"target_node": target_node, "fail_at": fail_at, "hold_at": hold_at}

    def hold_event(self, namespace, vmim):
        with self._lock:
            return self._holds.setdefault((namespace, vmim), threading.Event())

    def release(self, namespace, vmim):
        """Let a migration held at `hold_at` go on (also fine before it gets there)."""
        self.hold_event(namespace, vmim).set()

    def move_hold(self, namespace, vmim, phase):
        """Hold the running migration `vmim` again at a later `phase`, and let it go on from its
        current hold (the held run waits on the old event; the new one stays unset)."""
        self._check_phase("phase", phase)
        with self._lock:
            old = self.hold_event(namespace, vmim)
            for run in self._runs.values():
                if (run.namespace, run.name) == (namespace, vmim):
                    run.options["hold_at"] = phase
            self._holds[(namespace, vmim)] = threading.Event()
        old.set()

    def wait_phase(self, namespace, vmim, phases, timeout=30):
        """Poll the VMIM until its phase is one of `phases`; return it. AssertionError on timeout."""
        phases = [phases] if isinstance(phases, str) else list(phases)
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                obj = self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, VMIMS, vmim)
                last = (obj.get("status") or {}).get("phase")
                if last in phases:
                    return obj
            except ApiException as exc:
                if exc.status != 404:
                    raise
                last = "<deleted>"
            if time.monotonic() >= deadline:
                raise AssertionError("VMIM %s/%s did not reach %s within %ss (last phase: %s; sim errors: %s)"
                                     % (namespace, vmim, "/".join(phases), timeout, last, self.errors))
            time.sleep(0.02)

    def wait_idle(self, timeout=30):
        """Wait until no migration is being driven (cleanup after aborts and failures included)."""
        deadline = time.monotonic() + timeout
        for run in list(self._runs.values()):
            if not run.finished.wait(max(0.0, deadline - time.monotonic())):
                raise AssertionError("migration %s still running" % run.name)

    def other_run_in_flight(self, run):
        with self._lock:
            for other in self._runs.values():
                if other.seq < run.seq and not other.finished.is_set() \
                        and (other.namespace, other.vmi_name) == (run.namespace, run.vmi_name):
                    return other
        return None

    def record_error(self, run, exc):
        LOG.warning("kubevirt sim: %s: %s", run.name if run else "-", exc)
        self.errors.append((run.name if run else None, exc))
