"""The bench's world, shared by every case and run: a real OVN sandbox (hv1, hv2, hv3), the
Kubernetes API emulator, the simulated KubeVirt with clocks (timed_sim.py), a peer port bound on
hv3 that sends the probes, and an SB monitor. One run = one fresh VM on hv1 migrated to hv2."""
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
for extra in (TESTS, TESTS / "eda"):   # the sandbox, the emulator, the sim; the rulebook runner
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from k8s_emulator import K8sEmulator  # noqa: E402
from ovn_sandbox import OvnSandbox  # noqa: E402
from ovn_sandbox.ovsdb_json import quote, rows  # noqa: E402
from ovn_sandbox.vifs import ifname  # noqa: E402

from . import gap, plot  # noqa: E402
from .sb_monitor import BindingMonitor  # noqa: E402
from .timed_sim import TimedSim  # noqa: E402

SOURCE, TARGET, PEER = "hv1", "hv2", "hv3"
STEP_DELAY = 0.05       # the sim's pause between VMIM phases
CNI_TIMEOUT = 30        # Kube-OVN's CNI: the target pod waits this long for its port on the target chassis
INTERVAL = 0.002        # one probe every 2 ms


def log(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


class MigrationFailed(RuntimeError):
    """The migration ended Failed (e.g. the target pod's CNI gave up waiting for its port)."""


@dataclass
class Sample:
    case: str
    gap: Optional[gap.Gap]              # None when the migration failed
    sched_to_sb_ms: Optional[float]     # target pod bound -> SB binds the port on the target chassis
    wall_s: float                       # the whole run, migration and settling
    failure: str = ""
    timeline: Optional[plot.Timeline] = None


class Lab:
    def __init__(self, workdir=None, interval=INTERVAL):
        self.tmp = tempfile.TemporaryDirectory(prefix="bench-downtime-") if workdir is None else None
        self.workdir = Path(workdir or self.tmp.name)
        self.interval = interval
        self.sandbox = self.emulator = self.sim = self.monitor = None
        self.peer = None
        self.kubeconfig = None
        self._tags = iter(range(1, 1 << 30))

    def __enter__(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        log("starting the OVN sandbox (%s, %s, %s), the Kubernetes emulator and the simulated KubeVirt in %s"
            % (SOURCE, TARGET, PEER, self.workdir))
        try:
            self.sandbox = OvnSandbox(self.workdir / "ovn", hypervisors=(SOURCE, TARGET, PEER))
            self.sandbox.start()
            self.emulator = K8sEmulator(token="bench").start()
            self.kubeconfig = self.emulator.write_kubeconfig(self.workdir / "kubeconfig")
            # The figures so far were measured with the simulator's old pinned start and without
            # Kube-OVN's wipes (tests/kubevirt_sim/kube_ovn.py): kept so that they stay comparable.
            self.sim = TimedSim(self.emulator.api_client(), ovn=self.sandbox, step_delay=STEP_DELAY,
                                pinned_start=True, kube_ovn=False).start()
            self.monitor = BindingMonitor(self.sandbox)
            self.peer = self.sandbox.create_peer(PEER)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        for part in (self.monitor, self.sim, self.emulator, self.sandbox):
            if part is not None:
                try:
                    part.stop()
                except Exception as err:   # keep stopping the others
                    log("stopping %s: %s" % (type(part).__name__, err))
        if self.tmp is not None:
            self.tmp.cleanup()

    @property
    def env(self):
        """What the playbooks and the rulebook need to reach Kubernetes and OVN."""
        return {"K8S_AUTH_KUBECONFIG": str(self.kubeconfig), "OVN_NB_DB": self.sandbox.nb_remote,
                "OVN_SB_DB": self.sandbox.sb_remote}

    # ---- one run ------------------------------------------------------------------------------
    def run(self, case, driver, cni_timeout):
        """A fresh VM on hv1, probes from hv3, `driver(lab, namespace, vmi)` migrates it to hv2
        and returns once the migration has ended; then wait until the port is on hv2 alone."""
        namespace, vmi = "dt-%s-%s" % (case.split("/")[-1], uuid.uuid4().hex[:6]), "vm"
        ports = self.sandbox.create_vm(namespace, vmi)
        lsp = ports[0]["name"]
        self.sim.cni_timeout = cni_timeout
        self.sim.create_vmi(namespace, vmi, SOURCE, ports=ports)
        self.bound_only(lsp, SOURCE, {"requested-chassis": SOURCE})
        tag = next(self._tags)
        prober = Prober(self, ports[0], tag)
        try:
            # The path works before anything moves: a probe has reached the source port.
            self.sandbox.wait_for(lambda: gap.probe_seqs(gap.read(self.sandbox, SOURCE, lsp), tag), timeout=20,
                                  what="a first probe on %s at %s" % (lsp, SOURCE))
            start = time.monotonic()
            try:
                driver(self, namespace, vmi)
            except MigrationFailed as failed:
                log("%s: %s" % (case, failed))
                failure = str(failed).splitlines()[0]
            else:
                failure = ""
                self.bound_only(lsp, TARGET, {"requested-chassis": TARGET}, timeout=120)
                time.sleep(0.1)    # a tail of probes after everything settled
        finally:
            sent_at = prober.stop()
        if failure:
            self.forget(lsp)
            return Sample(case, None, None, time.monotonic() - start, failure=failure)
        time.sleep(0.05)           # the last probes in flight
        wall = time.monotonic() - start
        switchover = self.sim.switchover(lsp)
        if not switchover or switchover[1] != TARGET:
            raise RuntimeError("the VM never switched over to %s (sim errors: %s)" % (TARGET, self.sim.errors))
        at_source, at_target = gap.read(self.sandbox, SOURCE, lsp), gap.read(self.sandbox, TARGET, lsp)
        result = gap.measure(sent_at, at_source, at_target, tag, switchover[0], start)
        scheduled = self.sim.scheduled(namespace, TARGET, since=start)
        bound = self.monitor.first_bound(lsp, TARGET, scheduled) if scheduled else None
        lanes = {"delivered to the VM's port on %s (source)" % SOURCE: gap.probe_seqs(at_source, tag),
                 "delivered to the VM's port on %s (target)" % TARGET: gap.probe_seqs(at_target, tag)}
        timeline = plot.Timeline("%s: %s/%s from %s to %s" % (case, namespace, vmi, SOURCE, TARGET), self.interval,
                                 {label: plot.relative([sent_at[s] for s in seqs if s < len(sent_at)], start)
                                  for label, seqs in lanes.items()},
                                 self.marks(lsp, start, switchover[0]), end=wall)
        self.forget(lsp)
        return Sample(case, result, (bound - scheduled) * 1000 if bound else None, wall, timeline=timeline)

    def marks(self, lsp, start, switchover):
        """prepare (SB binds the target as additional), the RARP, cutover (SB: the target alone),
        in seconds from `start`."""
        chassis = self.sandbox.chassis_name(TARGET)
        found = {"prepare": self.monitor.first_dual(lsp, chassis, start), "RARP": switchover}
        found["cutover"] = self.monitor.first_alone(lsp, chassis, found["prepare"] or start)
        return {label: at - start for label, at in found.items() if at}

    def owned_options(self, lsp):
        found = rows(self.sandbox.nbctl("--format=json", "--columns=options", "find", "Logical_Switch_Port",
                                        "name=%s" % quote(lsp)))
        options = found[0]["options"] if found else {}
        return {k: v for k, v in options.items() if k in ("requested-chassis", "activation-strategy")}

    def bound_only(self, lsp, hv, options, timeout=30):
        """Wait until NB holds exactly `options` (our keys) and SB binds `lsp` on `hv` alone, and
        every chassis has caught up."""
        chassis = self.sandbox.chassis_name(hv)

        def settled():
            binding = self.sandbox.port_binding(lsp) or {}
            return (binding.get("chassis") == chassis and not binding.get("additional_chassis")
                    and self.owned_options(lsp) == options)
        self.sandbox.wait_for(settled, timeout=timeout, what="%s bound on %s alone with %s" % (lsp, hv, options))
        self.sandbox.wait_hv_sync()

    def forget_migrations(self):
        """Delete every VMIM (all have ended): a rulebook started now acts on new ones only,
        as after KubeVirt's garbage collection of finished migrations."""
        for vmim in self.emulator.list("virtualmachineinstancemigrations"):
            meta = vmim["metadata"]
            self.emulator.delete("virtualmachineinstancemigrations", meta["namespace"], meta["name"])

    def forget(self, lsp):
        for hv in (SOURCE, TARGET):
            self.sandbox.remove_vm_port(hv, lsp)
        self.sandbox.delete_lsp(lsp)


class Prober:
    """The probe sender process (prober.py) from the peer on hv3 to one VM port."""

    def __init__(self, lab, port, tag, pad=0):
        self.out = lab.workdir / ("probes-%d.bin" % tag)
        peer = lab.peer
        cmd = [sys.executable, "-m", "bench.downtime.prober",
               "--ctl", str(lab.sandbox.workdir / peer["hv"] / "ovs-vswitchd.ctl"), "--ifname", ifname(peer["name"]),
               "--src-mac", peer["mac"], "--src-ip", peer["ip"], "--dst-mac", port["mac"], "--dst-ip", port["ip"],
               "--tag", str(tag), "--interval", str(lab.interval), "--pad", str(pad), "--out", str(self.out)]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS)]))
        self.proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            self.proc.kill()
            raise RuntimeError("the probe sender did not start (exit %s)" % self.proc.wait())

    def stop(self):
        """Stop sending; the send instants by sequence number."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("the probe sender did not stop")
        if code != 0:
            raise RuntimeError("the probe sender failed (exit %s)" % code)
        sent = array("d")
        with open(self.out, "rb") as data:
            sent.frombytes(data.read())
        self.out.unlink()
        return list(sent)
