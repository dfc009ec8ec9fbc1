"""Kube-OVN's controller as it touches a VM's Logical_Switch_Ports, played on the OVN sandbox.

What is modelled (read from kubeovn/kube-ovn, HEAD; no code copied):

- Ports are created WITHOUT requested-chassis: Kube-OVN's pod handling never pins a VM's LSP; only
  its own live-migration code writes the key. An unpinned port is claimed by whichever
  ovn-controller sees its iface-id: the target virt-launcher pod's CNI plug makes it flap.
  (The simulator plugs the ports on the node and does not pin them; KubevirtSim(pinned_start=True)
  restores the old pinned start for the tests that need it.)
- The wipe: pkg/controller/pod.go, handleDeletePod runs for every VM pod that is deleted or is no
  longer alive (enqueueUpdatePod queues a pod whose phase is Succeeded/Failed as a deletion). With
  keep-VM-IP (EnableKeepVMIP, KubeVirt's default) it lists every LSP whose external_ids:pod is
  <namespace>/<vm> and calls CleanLogicalSwitchPortMigrateOptions
  (pkg/ovs/ovn-nb-logical_switch_port.go) on each: when the port has a requested-chassis, both
  requested-chassis and activation-strategy are removed; a port without requested-chassis is left
  as it is. Whatever --enable-live-migration-optimize says.
- The annotation write: pod.go, handleUpdatePod: a pod carrying
  `<provider>.kubernetes.io/activation_strategy` gets SetLogicalSwitchPortActivationStrategy on its
  port once scheduled: requested-chassis=<node>,<node> and activation-strategy=rarp.

The controller watches pods through the Kubernetes API as Kube-OVN's informers do, so a test (or
the simulator) deleting any pod of a VM triggers the wipe asynchronously, as on a real cluster.
"""
import json
import logging
import threading
import time

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

LOG = logging.getLogger(__name__)
ACTIVATION_ANNOTATION = "ovn.kubernetes.io/activation_strategy"
VM_NAME_LABEL = "vm.kubevirt.io/name"
NOT_ALIVE = ("Succeeded", "Failed")


class KubeOvnController:
    def __init__(self, api_client, sandbox, wipe=True, annotation_write=True):
        self.core = client.CoreV1Api(api_client)
        self.sandbox = sandbox
        self.wipe_enabled = wipe
        self.annotation_write = annotation_write
        self.stopping = threading.Event()
        self.wipes = []                  # (namespace, vm, [port names wiped]) in order
        self._done = set()               # (pod uid, what) handled once, as Kube-OVN's queues do
        self._lock = threading.Lock()
        self._thread = None
        self._stream = None

    def start(self):
        self.stopping.clear()
        self._thread = threading.Thread(target=self._watch_loop, name="kube-ovn-pods", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.stopping.set()
        deadline = time.monotonic() + 10
        while self._thread and self._thread.is_alive() and time.monotonic() < deadline:
            if self._stream:
                self._stream.stop()
            self._thread.join(0.05)
        self._thread = None

    # ---- what Kube-OVN does to the NB -------------------------------------------------------
    def clean_migrate_options(self, namespace, vm):
        """handleDeletePod -> CleanLogicalSwitchPortMigrateOptions on every LSP of the VM. Returns
        the ports whose keys were removed."""
        wiped = []
        for name in self.sandbox.vm_ports(namespace, vm):
            chassis = self.sandbox.nbctl("--if-exists", "get", "Logical_Switch_Port", name,
                                         "options:requested-chassis").strip()
            if not chassis:
                continue
            self.sandbox.nbctl("remove", "Logical_Switch_Port", name, "options", "requested-chassis", "--",
                               "remove", "Logical_Switch_Port", name, "options", "activation-strategy")
            wiped.append(name)
        with self._lock:
            self.wipes.append((namespace, vm, wiped))
        LOG.info("kube-ovn: pod of VM %s/%s gone: cleaned migrate options of %s", namespace, vm, wiped or "no port")
        return wiped

    def set_activation_strategy(self, namespace, vm, node, provider="ovn"):
        """handleUpdatePod with the activation_strategy annotation: both keys on the provider's port."""
        name = "%s.%s" % (vm, namespace) if provider == "ovn" else "%s.%s.%s" % (vm, namespace, provider)
        self.sandbox.nbctl("remove", "Logical_Switch_Port", name, "options", "requested-chassis", "--",
                           "remove", "Logical_Switch_Port", name, "options", "activation-strategy", "--",
                           "set", "Logical_Switch_Port", name, "options:requested-chassis=%s,%s" % (node, node),
                           "options:activation-strategy=rarp")

    def wait_wiped(self, namespace, vm, count=1, timeout=10):
        """Block until the VM's ports were cleaned `count` times; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if sum(1 for ns, name, _ports in self.wipes if (ns, name) == (namespace, vm)) >= count:
                    return
            time.sleep(0.02)
        raise AssertionError("Kube-OVN never cleaned the ports of %s/%s (%d time(s))" % (namespace, vm, count))

    # ---- the pod informer ---------------------------------------------------------------------
    def _on_pod(self, type_, pod):
        meta = pod.get("metadata") or {}
        owner = [o for o in meta.get("ownerReferences") or () if o.get("kind") == "VirtualMachineInstance"]
        if not owner:                      # isVMPod: owned by a VMI
            return
        vm, namespace, uid = owner[0]["name"], meta.get("namespace"), meta.get("uid")
        phase = (pod.get("status") or {}).get("phase")
        if type_ == "DELETED" or phase in NOT_ALIVE:
            if self.wipe_enabled and self._first(uid, "deleted"):
                self.clean_migrate_options(namespace, vm)
            return
        node = (pod.get("spec") or {}).get("nodeName")
        if self.annotation_write and node and (meta.get("annotations") or {}).get(ACTIVATION_ANNOTATION) \
                and self._first(uid, "activation"):
            self.set_activation_strategy(namespace, vm, node)

    def _first(self, uid, what):
        with self._lock:
            if (uid, what) in self._done:
                return False
            self._done.add((uid, what))
            return True

    def _watch_loop(self):
        rv = None
        while not self.stopping.is_set():
            try:
                if rv is None:
                    listed = self.core.list_pod_for_all_namespaces(_preload_content=False)
                    body = json.loads(listed.data)
                    rv = body["metadata"]["resourceVersion"]
                    for item in body.get("items") or ():
                        self._on_pod("ADDED", item)
                self._stream = watch.Watch()
                for event in self._stream.stream(self.core.list_pod_for_all_namespaces, resource_version=rv,
                                                 timeout_seconds=5, allow_watch_bookmarks=True):
                    if self.stopping.is_set():
                        break
                    raw = event["raw_object"]
                    rv = raw["metadata"]["resourceVersion"]
                    if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                        self._on_pod(event["type"], raw)
            except ApiException as exc:
                rv = None if exc.status == 410 else rv
                self.stopping.wait(0.2)
            except Exception:   # connection cut or emulator restarting: retry
                if not self.stopping.is_set():
                    LOG.debug("kube-ovn pod watch interrupted", exc_info=True)
                self.stopping.wait(0.1)
