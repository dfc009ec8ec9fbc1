"""The lab's background process: Kubernetes emulator, simulated KubeVirt on the OVN sandbox,
observer and prober, driven over a small JSON-over-HTTP control API (see lab.py).

    python lab_server.py --dir D [--step-delay S] [--cni-timeout T]

Writes D/lab.json (pid, control URL, remotes, kubeconfig) once ready; stops on SIGTERM.
"""
import argparse
import json
import os
import signal
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / ".venv" / "collections"), str(Path(__file__).resolve().parent)]

from k8s_emulator import K8sEmulator  # noqa: E402
from kubevirt_sim import KubevirtSim  # noqa: E402
from ovn_sandbox import OvnSandbox  # noqa: E402

from observer import Observer  # noqa: E402
from probe import Prober  # noqa: E402

VMIMS = "virtualmachineinstancemigrations"


class Lab:
    def __init__(self, workdir, step_delay, cni_timeout):
        self.workdir = Path(workdir)
        self.ovn = OvnSandbox.attach(str(self.workdir / "ovn"))
        # Enforcing extensions/awx/rbac.yml: the playbooks get the kubeconfig of their ServiceAccount,
        # the simulated KubeVirt an admin's client; each 403 is logged (lab_server.log) and listed
        # by the `forbidden` action.
        self.emulator = K8sEmulator.as_deployed()
        self.emulator.start()
        self.kubeconfig = str(self.workdir / "kubeconfig")
        self.emulator.write_kubeconfig(self.kubeconfig)
        self.sim = KubevirtSim(self.emulator.api_client(), ovn=self.ovn, step_delay=step_delay, cni_timeout=cni_timeout)
        self.probe_after_rarp = set()      # (namespace, vmi)
        self.abort_at = {}                 # (namespace, vmi) -> phase
        self._wrap_announce()
        self.sim.start()
        self.observer = Observer(self.ovn.nb_remote, self.ovn.sb_remote, self.emulator)
        self.observer.start()
        self.prober = Prober(self.ovn)
        self.vms = {}                      # (namespace, vm) -> ports [{"name", "mac", "ip"}]
        self.stopping = threading.Event()
        threading.Thread(target=self._abort_loop, name="aborter", daemon=True).start()

    def stop(self):
        self.stopping.set()
        self.observer.stop()
        self.sim.stop()
        self.emulator.stop()

    # The simulated guest announces itself on the target (RARP) just before the migration
    # completes; probing right then shows traffic reaching both chassis.
    def _wrap_announce(self):
        dataplane = self.sim.dataplane
        original = dataplane.announce

        def announce(node, ports):
            original(node, ports)
            names = {p["name"] for p in ports}
            for (namespace, vm), vm_ports in list(self.vms.items()):
                if (namespace, vm) in self.probe_after_rarp and names & {p["name"] for p in vm_ports}:
                    self.observer.poll()
                    self.probe(namespace, vm, label="after RARP on %s" % node)
        dataplane.announce = announce

    def _abort_loop(self):
        """Delete a VMIM when it reaches the configured abort_at phase (an operator's abort)."""
        while not self.stopping.wait(0.02):
            for (namespace, vmi), phase in list(self.abort_at.items()):
                for vmim in self.emulator.list(VMIMS, namespace):
                    meta = vmim["metadata"]
                    if (vmim.get("spec") or {}).get("vmiName") == vmi and not meta.get("deletionTimestamp") \
                            and (vmim.get("status") or {}).get("phase") == phase:
                        self.sim.custom.delete_namespaced_custom_object("kubevirt.io", "v1", namespace, VMIMS, meta["name"])
                        self.observer.note("lab", "vmim/" + meta["name"], "abort", "deleted at " + phase,
                                           vm="%s/%s" % (namespace, vmi))

    # ---- control actions ------------------------------------------------------------------
    def create_vm(self, namespace, vm, node, providers=(), pinned=False):
        """Kube-OVN's LSPs for the VM and a running VMI. Kube-OVN creates them without requested-chassis
        (kubevirt_sim/kube_ovn.py); pinned=True pins them to `node` first (the lab's old start)."""
        ports = self.ovn.create_vm(namespace, vm, providers=tuple(providers))
        for port in ports if pinned else ():
            self.ovn.nbctl("set", "Logical_Switch_Port", port["name"], "options:requested-chassis=%s" % node)
        self.vms[(namespace, vm)] = ports
        self.sim.create_vmi(namespace, vm, node, ports=[{"name": p["name"], "mac": p["mac"]} for p in ports])
        chassis = self.ovn.chassis_name(node)
        self.ovn.wait_for(lambda: all((self.ovn.port_binding(p["name"]) or {}).get("chassis") == chassis for p in ports),
                          timeout=15, what="ports of %s/%s bound on %s" % (namespace, vm, node))
        self.observer.watch(namespace, vm)
        return {"namespace": namespace, "vm": vm, "node": node, "ports": ports}

    def add_ports(self, namespace, vm, providers=()):
        """LSPs of a VM that has no VMI (left behind when a VM was deleted)."""
        ports = self.ovn.create_vm(namespace, vm, providers=tuple(providers))
        self.vms[(namespace, vm)] = ports
        self.observer.watch(namespace, vm)
        return {"namespace": namespace, "vm": vm, "ports": ports}

    def configure(self, namespace, vmi, target_node=None, fail_at=None, hold_at=None, abort_at=None,
                  probe_after_rarp=False):
        self.sim.configure(namespace, vmi, target_node=target_node, fail_at=fail_at, hold_at=hold_at or abort_at)
        if abort_at:
            self.abort_at[(namespace, vmi)] = abort_at
        else:
            self.abort_at.pop((namespace, vmi), None)
        if probe_after_rarp:
            self.probe_after_rarp.add((namespace, vmi))
        else:
            self.probe_after_rarp.discard((namespace, vmi))
        return {"configured": True}

    def migrate(self, namespace, vmi, target_node=None, fail_at=None, name=None):
        vmim = self.sim.migrate(namespace, vmi, target_node=target_node, fail_at=fail_at, name=name)
        return {"name": vmim["metadata"]["name"], "uid": vmim["metadata"]["uid"]}

    def release(self, namespace, vmim):
        self.sim.release(namespace, vmim)
        return {"released": vmim}

    def wait_phase(self, namespace, vmim, phases, timeout=30):
        obj = self.sim.wait_phase(namespace, vmim, phases, timeout=timeout)
        return {"name": vmim, "phase": obj["status"]["phase"]}

    def wait_idle(self, timeout=30):
        self.sim.wait_idle(timeout=timeout)
        return {"idle": True, "errors": [str(e) for e in self.sim.errors]}

    def stop_controller(self, hv):
        """A NotReady node: the hypervisor's ovn-controller stops (start_controller brings it back)."""
        return {"hv": hv, "stopped_pid": self.ovn.stop_controller(hv)}

    def start_controller(self, hv):
        return {"hv": hv, "pid": self.ovn.restart_controller(hv)}

    def delete_pod(self, namespace, name):
        """Delete a pod (a failed migration's target pod, say): Kube-OVN then wipes the VM's keys."""
        self.sim.core.delete_namespaced_pod(name, namespace)
        return {"deleted": name}

    def probe(self, namespace, vm, label="probe"):
        ports = self.vms[(namespace, vm)]
        reached = self.prober.probe(ports)
        for name, hvs in reached.items():
            self.observer.note("probe", name, label, ",".join(hvs) or "nowhere", vm="%s/%s" % (namespace, vm))
        return {"label": label, "reached": reached}

    def ports(self, namespace, vm):
        """NB options and SB binding of each port, and where its interface is plugged in."""
        out = []
        for port in self.vms.get((namespace, vm)) or []:
            options = self.ovn.nbctl("get", "Logical_Switch_Port", port["name"], "options")
            out.append({"name": port["name"], "options": options.strip(),
                        "binding": self.ovn.port_binding(port["name"]),
                        "plugged": self.ovn.vm_port_hypervisors(port["name"])})
        return {"ports": out}

    def timeline(self):
        return {"events": self.observer.timeline()}

    def errors(self):
        return {"errors": [str(e) for e in self.sim.errors]}

    def forbidden(self):
        """The requests the emulator refused with 403 by rbac.yml: (user, verb, group, resource,
        namespace, name, allowed)."""
        return {"forbidden": [list(record) for record in self.emulator.forbidden]}


def serve(args):
    lab = Lab(args.dir, args.step_delay, args.cni_timeout)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            action = self.path.strip("/")
            length = int(self.headers.get("Content-Length") or 0)
            params = json.loads(self.rfile.read(length) or b"{}")
            try:
                if action.startswith("_") or not hasattr(lab, action) or action in ("stop",):
                    raise ValueError("unknown action %r" % action)
                body = {"ok": True, "result": getattr(lab, action)(**params)}
            except Exception as exc:   # report to the caller, keep serving
                body = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc), "trace": traceback.format_exc()}
            data = json.dumps(body, default=str).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    info = {"pid": os.getpid(), "control_url": "http://127.0.0.1:%d" % server.server_address[1],
            "kubeconfig": lab.kubeconfig, "k8s_url": lab.emulator.url,
            "nb_remote": lab.ovn.nb_remote, "sb_remote": lab.ovn.sb_remote, "ovn_dir": str(Path(args.dir) / "ovn")}
    tmp = Path(args.dir) / "lab.json.tmp"
    tmp.write_text(json.dumps(info, indent=2))
    tmp.rename(Path(args.dir) / "lab.json")
    while not done.wait(0.5):
        pass
    server.shutdown()
    lab.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--step-delay", type=float, default=0.2)
    parser.add_argument("--cni-timeout", type=float, default=None)
    serve(parser.parse_args())


if __name__ == "__main__":
    main()
