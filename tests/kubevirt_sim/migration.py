"""One live migration as virt-controller and virt-handler drive it: VMIM phases, the target
virt-launcher pod, the VMI's migrationState and node, and (optionally) the OVN data plane."""
import copy
import logging
import threading

from kubernetes.client.exceptions import ApiException

from . import memory_copy
from .objects import (GROUP, MIGRATION_FINALIZER, NODE_LABEL, TARGET_NODE_LABEL, VERSION, VMI_NAME_LABEL, VMIMS,
                      VMIS, launcher_pod, now, options_from_metadata)

LOG = logging.getLogger(__name__)
JSON_PATCH = "application/json-patch+json"


class Aborted(Exception):
    """The VMIM was deleted before the switchover."""


class Failed(Exception):
    """The migration fails with this reason."""


class Stopped(Exception):
    """The simulator is shutting down: leave everything as it is."""


class MigrationRun(threading.Thread):
    def __init__(self, sim, vmim, options, seq=0):
        super().__init__(name="vmim-" + vmim["metadata"]["name"], daemon=True)
        self.sim = sim
        self.namespace = vmim["metadata"]["namespace"]
        self.name = vmim["metadata"]["name"]
        self.uid = vmim["metadata"]["uid"]
        self.vmi_name = (vmim.get("spec") or {}).get("vmiName")
        self.options = options            # target_node, fail_at, hold_at
        self.seq = seq                    # creation order: the older of two runs of a VMI wins
        self.abort_requested = threading.Event()
        self.finished = threading.Event()
        self.timestamps = []
        self.state = None                 # the VMI's migrationState once handed off to the handlers
        self.ports = []
        self.source_node = self.target_node = self.target_pod = None
        self.target_plugged = False

    # ---- helpers ---------------------------------------------------------------------------
    @property
    def custom(self):
        return self.sim.custom

    @property
    def core(self):
        return self.sim.core

    def abort(self):
        self.abort_requested.set()

    def _pause(self, delay=None):
        if self.sim.stopping.wait(0) or self.abort_requested.wait(self.sim.step_delay if delay is None else delay):
            self._raise_interrupt()
        if self.sim.stopping.is_set():
            raise Stopped()

    def _raise_interrupt(self):
        if self.sim.stopping.is_set():
            raise Stopped()
        raise Aborted()

    def _vmim_status(self, patch):
        self.custom.patch_namespaced_custom_object_status(GROUP, VERSION, self.namespace, VMIMS, self.name, {"status": patch})

    def _phase(self, phase):
        LOG.info("VMIM %s/%s (VMI %s): %s", self.namespace, self.name, self.vmi_name, phase)
        self.timestamps.append({"phase": phase, "phaseTransitionTimestamp": now()})
        status = {"phase": phase, "phaseTransitionTimestamps": copy.deepcopy(self.timestamps)}
        if self.state:
            status["migrationState"] = copy.deepcopy(self.state)
        self._vmim_status(status)
        if self.options.get("hold_at") == phase:
            released = self.sim.hold_event(self.namespace, self.name)
            while not released.wait(0.02):
                if self.abort_requested.is_set() or self.sim.stopping.is_set():
                    self._raise_interrupt()
        if self.options.get("fail_at") == phase:
            self._pause()
            raise Failed("simulated failure at phase %s" % phase)

    def _write_vmi_state(self, extra_status=None):
        """Replace (not merge) the VMI's migrationState: an earlier migration's keys must go."""
        ops = [{"op": "add", "path": "/status/migrationState", "value": copy.deepcopy(self.state)}]
        for key, value in (extra_status or {}).items():
            ops.append({"op": "add", "path": "/status/" + key, "value": value})
        self.custom.patch_namespaced_custom_object_status(GROUP, VERSION, self.namespace, VMIS, self.vmi_name, ops,
                                                          _content_type=JSON_PATCH)

    def _vmi_labels(self, labels):
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, VMIS, self.vmi_name,
                                                   {"metadata": {"labels": labels}})

    def _vmim_finalizer(self, add):
        try:
            patch = {"metadata": {"finalizers": [MIGRATION_FINALIZER] if add else None}}
            if add:
                patch["metadata"]["labels"] = {VMI_NAME_LABEL: self.vmi_name}
            self.custom.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, VMIMS, self.name, patch)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def _event(self, reason, message):
        """A Kubernetes Event on the VMIM, as virt-controller records why a migration ended."""
        self.core.create_namespaced_event(self.namespace, {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"generateName": self.name + ".", "namespace": self.namespace},
            "involvedObject": {"apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "VirtualMachineInstanceMigration",
                               "name": self.name, "namespace": self.namespace, "uid": self.uid},
            "reason": reason, "message": message, "type": "Warning", "count": 1,
            "firstTimestamp": now(), "lastTimestamp": now(), "source": {"component": "virtualmachine-controller"}})

    # ---- the happy path --------------------------------------------------------------------
    def run(self):
        try:
            self._migrate()
        except Stopped:
            pass
        except Aborted:
            self._end(aborted=True, reason="migration aborted: the VMIM was deleted")
        except Failed as exc:
            self._end(aborted=False, reason=str(exc))
        except ApiException as exc:
            if exc.status == 404:   # the VMIM went away under us (deleted without finalizer)
                self._end(aborted=True, reason="migration aborted: the VMIM is gone")
            else:
                self.sim.record_error(self, exc)
                self._end(aborted=False, reason="simulator error: %s" % exc.reason)
        except Exception as exc:  # keep the simulator alive; tests see sim.errors
            LOG.exception("migration %s/%s", self.namespace, self.name)
            self.sim.record_error(self, exc)
            self._end(aborted=False, reason="simulator error: %s" % exc)
        finally:
            self.finished.set()

    def _migrate(self):
        vmi = self._check_vmi()
        self._vmim_finalizer(add=True)
        self._phase("Pending")
        self._pause()
        self.target_node = self.options.get("target_node") or self.sim.pick_target_node(self.source_node)
        if not self.target_node or self.target_node == self.source_node:
            raise Failed("no node to migrate to (source %s, target %s)" % (self.source_node, self.target_node))
        self.sim.ensure_node(self.target_node)
        pod = self.core.create_namespaced_pod(self.namespace, launcher_pod(vmi, migration_uid=self.uid))
        self.target_pod = pod.metadata.name
        self._phase("Scheduling")
        self._pause()
        # The scheduler binds the target pod; its CNI then plugs the VM's ports on the target node
        # and (Kube-OVN) waits for OVN to bind them there before the pod can run.
        self.sim.bind_pod(self.namespace, self.target_pod, self.target_node)
        self._plug_target()
        self.core.patch_namespaced_pod_status(self.target_pod, self.namespace, {"status": {"phase": "Running"}})
        self._phase("Scheduled")
        self._pause()
        self.state = {"migrationUid": self.uid, "sourceNode": self.source_node, "targetNode": self.target_node,
                      "targetPod": self.target_pod, "sourcePod": self.sim.active_pod_name(vmi),
                      "mode": "PreCopy", "completed": False, "failed": False}
        self._write_vmi_state()
        self._vmi_labels({TARGET_NODE_LABEL: self.target_node})
        self._phase("PreparingTarget")
        self._pause()
        self.state.update(targetNodeAddress="127.0.0.1", targetDirectMigrationNodePorts={"45000": 0})
        self._write_vmi_state()
        self._phase("TargetReady")
        self._pause()
        self.state["startTimestamp"] = now()
        self._write_vmi_state()
        self._phase("Running")
        # The memory copy (memory_copy.py) when the VMI carries a bandwidth, else the fixed step.
        copy = memory_copy.for_vmi(vmi)
        self._pause(copy.seconds if copy else None)
        if copy and not copy.converged:
            raise Failed("memory copy did not converge within completionTimeoutPerGiB (%.0f s)" % copy.seconds)
        self._switch_over()

    def _check_vmi(self):
        try:
            vmi = self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, VMIS, self.vmi_name or "-")
        except ApiException as exc:
            if exc.status == 404:
                raise Failed("VMI %s/%s does not exist" % (self.namespace, self.vmi_name))
            raise
        status = vmi.get("status") or {}
        if status.get("phase") != "Running" or not status.get("nodeName"):
            raise Failed("VMI %s/%s is not running" % (self.namespace, self.vmi_name))
        other = self.sim.other_run_in_flight(self)
        if other:
            raise Failed("in-flight migration detected: %s is already migrating VMI %s" % (other.name, self.vmi_name))
        for option, value in options_from_metadata(vmi).items():
            self.options.setdefault(option, value)
        self.source_node = status["nodeName"]
        self.ports = self.sim.vm_ports(self.namespace, self.vmi_name)
        return vmi

    def _plug_target(self):
        dataplane = self.sim.dataplane
        if not (dataplane and self.ports):
            return
        dataplane.plug(self.target_node, self.ports)
        self.target_plugged = True
        if self.sim.cni_timeout is not None:
            missing = dataplane.wait_bound(self.target_node, self.ports, self.sim.cni_timeout,
                                           lambda: self.abort_requested.is_set() or self.sim.stopping.is_set())
            if self.abort_requested.is_set() or self.sim.stopping.is_set():
                self._raise_interrupt()
            if missing:
                raise Failed("CNI timeout: ports %s not bound on chassis of %s after %ss"
                             % (", ".join(missing), self.target_node, self.sim.cni_timeout))

    def _switch_over(self):
        """Past this point the migration cannot be aborted any more."""
        if self.sim.dataplane and self.ports:
            self.sim.dataplane.announce(self.target_node, self.ports)
        target_pod = self.core.read_namespaced_pod(self.target_pod, self.namespace)
        self.state.update(completed=True, endTimestamp=now(), targetNodeDomainDetected=True,
                          targetNodeDomainReadyTimestamp=now())
        # The handoff clears an evacuation mark too: the VMI has left the node being drained.
        self._write_vmi_state({"nodeName": self.target_node, "activePods": {target_pod.metadata.uid: self.target_node},
                               "evacuationNodeName": ""})
        self._vmi_labels({NODE_LABEL: self.target_node, TARGET_NODE_LABEL: None})
        source_pod = self.state.get("sourcePod")
        if source_pod:
            try:
                self.core.patch_namespaced_pod_status(source_pod, self.namespace, {"status": {"phase": "Succeeded"}})
            except ApiException as exc:
                if exc.status != 404:
                    raise
        self._phase("Succeeded")
        if self.sim.dataplane and self.ports:
            self.sim.dataplane.unplug(self.source_node, self.ports)
        self._vmim_finalizer(add=False)

    # ---- failure and abort -----------------------------------------------------------------
    def _end(self, aborted, reason):
        """Roll back: the VM stays on the source; the VMIM ends Failed (and goes if deleted)."""
        steps = []
        if self.state:
            self.state.update(completed=True, failed=True, endTimestamp=now(), failureReason=reason)
            if aborted:
                self.state.update(abortRequested=True, abortStatus="Succeeded")
            steps.append(self._write_vmi_state)
            steps.append(lambda: self._vmi_labels({TARGET_NODE_LABEL: None}))
        if self.target_pod:
            steps.append(lambda: self.core.delete_namespaced_pod(self.target_pod, self.namespace))
        if self.target_plugged:
            steps.append(lambda: self.sim.dataplane.unplug(self.target_node, self.ports))

        def failed_phase():
            LOG.info("VMIM %s/%s (VMI %s): Failed: %s", self.namespace, self.name, self.vmi_name, reason)
            self.timestamps.append({"phase": "Failed", "phaseTransitionTimestamp": now()})
            status = {"phase": "Failed", "phaseTransitionTimestamps": self.timestamps}
            if self.state:
                status["migrationState"] = self.state
            self._vmim_status(status)
        steps += [failed_phase, lambda: self._event("AbortedMigration" if aborted else "FailedMigration", reason),
                  lambda: self._vmim_finalizer(add=False)]
        for step in steps:
            try:
                step()
            except ApiException as exc:
                if exc.status != 404:
                    self.sim.record_error(self, exc)
            except Exception as exc:
                self.sim.record_error(self, exc)
