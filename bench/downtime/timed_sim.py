"""The simulated KubeVirt (tests/kubevirt_sim) with two clocks added, nothing else changed:

- when the scheduler bound each pod (`bind_pod`): for a target pod, the instant it is scheduled;
- when the VM resumed on the target (`announce`): the switchover. Before it the VM runs on the
  source, from it on the target. The RARP goes through one open unixctl session per hypervisor
  (sub-millisecond) instead of a process per frame, and the instant is taken just before it.
"""
import threading
import time

from kubevirt_sim import KubevirtSim
from kubevirt_sim.dataplane import OvnDataPlane
from ovn_sandbox import packets
from ovn_sandbox.vifs import ifname

from .unixctl import Unixctl


class TimedDataPlane(OvnDataPlane):
    def __init__(self, sandbox):
        super().__init__(sandbox)
        self.switchovers = []       # (monotonic, node, [lsp names]) per announce
        self._ctls = {}
        self._lock = threading.Lock()

    def _ctl(self, node):
        with self._lock:
            if node not in self._ctls:
                self._ctls[node] = Unixctl(self.sandbox.workdir / node / "ovs-vswitchd.ctl")
            return self._ctls[node]

    def announce(self, node, ports):
        ctl = self._ctl(node)
        frames = [(ifname(p["name"]), packets.rarp(p["mac"])) for p in ports if p.get("mac")]
        self.switchovers.append((time.monotonic(), node, [p["name"] for p in ports]))
        for name, frame in frames:
            ctl.receive(name, frame)

    def close(self):
        for ctl in self._ctls.values():
            ctl.close()


class TimedSim(KubevirtSim):
    def __init__(self, api_client, ovn, **kwargs):
        super().__init__(api_client, ovn=ovn, **kwargs)
        self.dataplane = TimedDataPlane(ovn)
        self.bindings = []          # (monotonic, namespace, pod, node) per pod scheduled

    def bind_pod(self, namespace, pod, node):
        super().bind_pod(namespace, pod, node)
        self.bindings.append((time.monotonic(), namespace, pod, node))

    def switchover(self, lsp):
        """(instant, node) of the last switchover of the VM owning `lsp`, or None."""
        for stamp, node, names in reversed(self.dataplane.switchovers):
            if lsp in names:
                return stamp, node
        return None

    def scheduled(self, namespace, node, since=0.0):
        """The last instant (after `since`) a pod of `namespace` was bound to `node`, or None."""
        for stamp, ns, _pod, bound in reversed(self.bindings):
            if ns == namespace and bound == node and stamp >= since:
                return stamp
        return None

    def stop(self):
        super().stop()
        self.dataplane.close()
