"""bench.downtime's world (OVN sandbox hv1, hv2, hv3, Kubernetes emulator, timed simulated
KubeVirt, peer on hv3, SB monitor) plus what this bench needs: a capture of the Geneve frames
each of hv1 and hv2 receives from the underlay, a Pushgateway the playbooks and the rulebook
push their metrics to, and a VM whose memory copy follows the simulator's model."""
import time
import uuid
from dataclasses import dataclass
from typing import Optional

from bench.downtime.lab import SOURCE, TARGET, Lab, MigrationFailed, Prober, log  # first: puts tests/ on sys.path
from bench.downtime import gap, plot  # noqa: I100
from kubernetes import client  # noqa: I100
from kubevirt_sim.memory_copy import BANDWIDTH_KEY, DIRTY_RATE_KEY, PreCopy, precopy, quantity  # noqa: E402
from ovn_sandbox.pcap import read_frames  # noqa: E402
from ovn_sandbox.sandbox import UNDERLAY  # noqa: E402
from prometheus_stack import Pushgateway  # noqa: E402

from . import traffic  # noqa: E402

HEADER = 54             # Ethernet + IPv4 + UDP + the probe's payload: the frame without padding
LAST_WINDOW = "kubeovn_live_migration_dual_chassis_last_window_seconds"


@dataclass
class Run:
    case: str
    memory: str
    bandwidth: str
    model: PreCopy                      # what the simulator's memory copy was told to take
    traffic: Optional[traffic.Traffic]  # None when the migration failed
    gap: Optional[gap.Gap]
    sb_window_s: Optional[float]        # SB: target bound as additional -> target alone
    metrics_window_s: Optional[float]   # the collection's last-window gauge on the Pushgateway
    failure: str = ""
    timeline: Optional[plot.Timeline] = None


class BandwidthLab(Lab):
    def __init__(self, workdir=None, rate=1000, frame_size=500, dirty_rate="0"):
        super().__init__(workdir, interval=1.0 / rate)
        self.dirty_rate = dirty_rate
        if frame_size < HEADER:
            raise ValueError("frames are at least %d bytes" % HEADER)
        self.frame_size = frame_size
        self.pushgateway = None

    def __enter__(self):
        super().__enter__()
        try:
            self.pushgateway = Pushgateway(self.workdir / "pushgateway").start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        if self.pushgateway is not None:
            self.pushgateway.stop()
        super().__exit__(*exc)

    @property
    def env(self):
        env = dict(super().env)
        if self.pushgateway is not None:
            env["PROMETHEUS_PUSHGATEWAY_URL"] = self.pushgateway.url
        return env

    def capture_tunnels(self, tag):
        """A fresh capture per run of what hv1 and hv2 receive from the underlay: {hv: pcap path}."""
        paths = {}
        for hv in (SOURCE, TARGET):
            path = self.workdir / ("tunnel-%s-%d.pcap" % (hv, tag))
            self.sandbox.vsctl(hv, "set", "Interface", "br-phys_" + UNDERLAY, "options:rxq_pcap=%s" % path)
            paths[hv] = path
        return paths

    def knobs(self, namespace, vmi, memory, bandwidth):
        """The VM's memory and the migration bandwidth, as the simulated KubeVirt reads them."""
        client.CustomObjectsApi(self.emulator.api_client()).patch_namespaced_custom_object(
            "kubevirt.io", "v1", namespace, "virtualmachineinstances", vmi,
            {"metadata": {"annotations": {BANDWIDTH_KEY: bandwidth, DIRTY_RATE_KEY: self.dirty_rate}},
             "spec": {"domain": {"resources": {"requests": {"memory": memory}}}}})

    def run(self, case, driver, cni_timeout, memory="1Gi", bandwidth="1Gi"):
        """One fresh VM on hv1 with `memory`, migrated to hv2 at `bandwidth`/s while the peer on hv3
        sends it `rate` probes/s of `frame_size` bytes."""
        namespace, vmi = "bw-%s-%s" % (case.split("/")[-1], uuid.uuid4().hex[:6]), "vm"
        model = precopy(quantity(memory), quantity(bandwidth), quantity(self.dirty_rate))
        ports = self.sandbox.create_vm(namespace, vmi)
        lsp = ports[0]["name"]
        self.sim.cni_timeout = cni_timeout
        self.sim.create_vmi(namespace, vmi, SOURCE, ports=ports)
        self.knobs(namespace, vmi, memory, bandwidth)
        self.bound_only(lsp, SOURCE, {"requested-chassis": SOURCE})
        tag = next(self._tags)
        tunnels = self.capture_tunnels(tag)
        prober = Prober(self, ports[0], tag, pad=self.frame_size - HEADER)
        failure = ""
        try:
            self.sandbox.wait_for(lambda: gap.probe_seqs(gap.read(self.sandbox, SOURCE, lsp), tag), timeout=20,
                                  what="a first probe on %s at %s" % (lsp, SOURCE))
            start = time.monotonic()
            try:
                driver(self, namespace, vmi)
            except MigrationFailed as failed:
                log("%s: %s" % (case, failed))
                failure = str(failed).splitlines()[0]
            else:
                self.bound_only(lsp, TARGET, {"requested-chassis": TARGET}, timeout=120)
                time.sleep(0.1)
        finally:
            sent_at = prober.stop()
        if failure:
            self.forget(lsp)
            return Run(case, memory, bandwidth, model, None, None, None, None, failure=failure)
        time.sleep(0.05)
        end = time.monotonic()
        switchover = self.sim.switchover(lsp)
        if not switchover or switchover[1] != TARGET:
            raise RuntimeError("the VM never switched over to %s (sim errors: %s)" % (TARGET, self.sim.errors))
        switchover = switchover[0]
        at_source, at_target = gap.read(self.sandbox, SOURCE, lsp), gap.read(self.sandbox, TARGET, lsp)
        source_tunnel = traffic.copies(read_frames(tunnels[SOURCE]), self.sandbox.encap_ip(SOURCE), tag)
        target_tunnel = traffic.copies(read_frames(tunnels[TARGET]), self.sandbox.encap_ip(TARGET), tag)
        target_port = gap.probe_seqs(at_target, tag)
        counted = traffic.account(sent_at, start, switchover, self.interval, source_tunnel, target_tunnel, target_port)
        marks = self.marks(lsp, start, switchover)
        sb_window = marks["cutover"] - marks["prepare"] if {"prepare", "cutover"} <= set(marks) else None
        lanes = {"tunnelled to %s (source chassis)" % SOURCE: source_tunnel,
                 "tunnelled to %s (target chassis)" % TARGET: target_tunnel,
                 "delivered to the VM's port on %s" % TARGET: target_port}
        timeline = plot.Timeline(
            "%s: %s VM, %s/s migration bandwidth, %d probes/s of %d bytes" % (
                case, memory, bandwidth, round(1 / self.interval), self.frame_size), self.interval,
            {label: plot.relative([sent_at[s] for s in seqs if s < len(sent_at)], start) for label, seqs in lanes.items()},
            marks, end=end - start)
        result = Run(case, memory, bandwidth, model, counted,
                     gap.measure(sent_at, at_source, at_target, tag, switchover, start),
                     sb_window, self.metrics_window(namespace, vmi), timeline=timeline)
        self.forget(lsp)
        for path in tunnels.values():
            path.unlink(missing_ok=True)
        return result

    def metrics_window(self, namespace, vmi):
        """The window the collection pushed for the VM's last migration (None: nothing pushed)."""
        found = self.pushgateway.samples(LAST_WINDOW, namespace=namespace, vmi=vmi)
        return found[0].value if found else None
