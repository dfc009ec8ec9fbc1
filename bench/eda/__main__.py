"""python -m bench.eda latency [--migrations 20] | burst [--vms 100] [--batch-window S] [--max-concurrent-actions N]

latency: one migration at a time. Each VM runs on hv1 with a Pending VMIM; at t0 the target pod
         is written bound to hv2 and the VMIM moves to Scheduled (one store write each, as KubeVirt
         and the scheduler do). Measured: t0 -> NB LSP options requested-chassis=hv1,hv2 (seen by
         `ovsdb-client monitor`), and t0 -> SB Port_Binding requested_additional_chassis set.
         Then Succeeded, and the cutover is awaited before the next migration.
burst:   --vms VMs get their target scheduled at once (a node drain); time until every port is
         prepared in NB, and in SB. Once the prepare runs have ended, every migration succeeds at once
         (the VMIs' and VMIMs' status writes, then the source ports unplugged); time until every port
         is cut over in NB (requested-chassis=hv2 alone) and on the target only in SB (chassis hv2,
         no additional chassis).
Both run the rulebook with its defaults (adaptive batching of prepares and cutovers on); --batch-window
S sets live_migration_prepare_batch_window (0: no batching, one run per VM and action).
Progress on stderr; figures on stdout.
"""
import argparse
import datetime
import platform
import sys
import time

from .lab import Lab, log, wait_until
from ..ovsdb_monitor import RowMonitor, ovsdb_map, ovsdb_set


def prepared(values):
    return ovsdb_map(values.get("options")).get("requested-chassis") == "hv1,hv2"


def cut_over(values):
    options = ovsdb_map(values.get("options"))
    return options.get("requested-chassis") == "hv2" and "activation-strategy" not in options


def has_additional(values):
    return bool(ovsdb_set(values.get("requested_additional_chassis")))


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def runner_started(lab, since):
    """Wall time (epoch) of ansible-rulebook's first "Calling Ansible runner" at or after `since`:
    where the event path (source, rules, action) ends and the playbook run begins."""
    for line in lab.rulebook.log().splitlines():
        if "Calling Ansible runner" in line:
            stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            if stamp >= since:
                return stamp
    return None


def monitors(lab, sb_columns=()):
    nb = RowMonitor(lab.sandbox.nb_remote, "OVN_Northbound", "Logical_Switch_Port", "name", ["options"])
    sb = RowMonitor(lab.sandbox.sb_remote, "OVN_Southbound", "Port_Binding", "logical_port",
                    ["requested_additional_chassis"] + list(sb_columns))
    return nb, sb


def run_latency(args):
    nb_times, sb_times, path_times = [], [], []
    # -vv: ansible-rulebook logs when it hands the action to ansible-runner.
    with Lab(max_concurrent_actions=args.max_concurrent_actions, verbosity=2, rulebook=args.rulebook,
             batch_window=args.batch_window) as lab:
        nb, sb = monitors(lab)
        try:
            for index in range(args.migrations):
                namespace, vmi, lsp = lab.vm()
                lab.wait_bound([lsp])
                done = lab.playbooks_done()
                vmim = lab.pending_migration(namespace, vmi)
                # The Pending VMIM's pin (the rulebook's pin rule) has run: the rulebook is idle.
                wait_until(lambda: lab.playbooks_done() >= done + 1, 120, "the pin of " + lsp)
                time.sleep(0.2)
                t0, w0 = time.monotonic(), time.time()
                lab.target_scheduled(vmim)
                lab.plug_target(lsp)
                wait_until(lambda: nb.first_seen(lsp, prepared, t0) and sb.first_seen(lsp, has_additional, t0),
                           120, "prepare of " + lsp)
                nb_times.append(nb.first_seen(lsp, prepared, t0) - t0)
                sb_times.append(sb.first_seen(lsp, has_additional, t0) - t0)
                path_times.append(runner_started(lab, w0) - w0)
                log("migration %d/%d: runner %.2f s, NB %.2f s, SB %.2f s" % (
                    index + 1, args.migrations, path_times[-1], nb_times[-1], sb_times[-1]))
                t1 = time.monotonic()
                lab.succeeded(vmim, lsp)
                wait_until(lambda: nb.first_seen(lsp, cut_over, t1), 120, "cutover of " + lsp)
                # The three runs (pin, prepare, cutover) have ended: the next migration starts from idle.
                wait_until(lambda: lab.playbooks_done() >= done + 3, 120, "the playbooks to end")
        finally:
            nb.stop()
            sb.stop()
    print("## EDA event -> OVN, %d migrations, one at a time (%s, %s cores, %s, %s)" % (
        args.migrations, platform.machine(), _cores(), args.rulebook, _batching(args)))
    print("")
    print("| from the target-scheduled write to | p50 | p95 | max |")
    print("|---|---|---|---|")
    for label, values in (("ansible-runner called (source + rules + action)", path_times),
                          ("NB requested-chassis=SRC,DST", nb_times), ("SB requested_additional_chassis", sb_times)):
        print("| %s | %.2f s | %.2f s | %.2f s |" % (label, percentile(values, 0.5), percentile(values, 0.95),
                                                     max(values)))
    target = percentile(sb_times, 0.95) < 3.0
    print("")
    print("load average at the end: %s" % " ".join("%.1f" % x for x in _load()))
    print("target p95 < 3 s (to SB): %s" % ("met" if target else "MISSED"))


def on_target_only(chassis_uuid):
    """SB predicate: the port bound on `chassis_uuid` alone, nothing additional asked or bound."""
    def check(values):
        chassis = ovsdb_set(values.get("chassis"))
        return (len(chassis) == 1 and chassis[0][1] == chassis_uuid and not ovsdb_set(values.get("additional_chassis"))
                and not ovsdb_set(values.get("requested_additional_chassis")))
    return check


def run_burst(args):
    with Lab(max_concurrent_actions=args.max_concurrent_actions, rulebook=args.rulebook,
             batch_window=args.batch_window) as lab:
        log("creating %d VMs on hv1" % args.vms)
        vms = [lab.vm() for _unused in range(args.vms)]
        lab.wait_bound([lsp for _unused, _unused, lsp in vms], timeout=300)
        vmims = [lab.pending_migration(namespace, vmi) for namespace, vmi, _unused in vms]
        time.sleep(2)
        # The rulebook pins each VM's ports to hv1 once its VMIM exists (the pin rule): runs of their own.
        pin_runs = lab.rulebook.log().count("PLAY RECAP") + lab.playbooks_running()
        nb, sb = monitors(lab, ["chassis", "additional_chassis"])
        hv2 = lab.sandbox.sbctl("--bare", "--columns=_uuid", "find", "Chassis",
                                "name=%s" % lab.sandbox.chassis_name("hv2")).strip()
        try:
            time.sleep(1)
            log("scheduling %d targets at once" % args.vms)
            t0 = time.monotonic()
            for vmim in vmims:
                lab.target_scheduled(vmim)
            written = time.monotonic() - t0
            for _unused, _unused, lsp in vms:
                lab.plug_target(lsp)
            lsps = [lsp for _unused, _unused, lsp in vms]
            wait_until(lambda: all(nb.first_seen(p, prepared, t0) and sb.first_seen(p, has_additional, t0)
                                   for p in lsps), 1800, "every port prepared")
            nb_times = sorted(nb.first_seen(p, prepared, t0) - t0 for p in lsps)
            sb_times = sorted(sb.first_seen(p, has_additional, t0) - t0 for p in lsps)
            load_prepared = _load()
            log("every port prepared after %.1f s; waiting for the prepare runs to end" % sb_times[-1])
            # The migrations copy memory for a while: they succeed once the prepare runs are over.
            wait_until(lambda: lab.playbooks_running() == 0, 1800, "the prepare runs to end")
            prepare_runs = lab.rulebook.log().count("PLAY RECAP")
            time.sleep(1)
            log("%d migrations succeed at once" % args.vms)
            t1 = time.monotonic()
            for (_unused, _unused, lsp), vmim in zip(vms, vmims):
                lab.succeeded(vmim, lsp, unplug=False)
            written_cutover = time.monotonic() - t1
            for lsp in lsps:
                lab.unplug_source(lsp)
            target_only = on_target_only(hv2)
            try:
                wait_until(lambda: all(nb.first_seen(p, cut_over, t1) and sb.first_seen(p, target_only, t1)
                                       for p in lsps), args.cutover_timeout, "every port cut over")
            except RuntimeError as err:
                log(str(err))       # the figures of the ports that got there, and those that did not
            nb_cut = sorted(nb.first_seen(p, cut_over, t1) - t1 for p in lsps if nb.first_seen(p, cut_over, t1))
            sb_cut = sorted(sb.first_seen(p, target_only, t1) - t1 for p in lsps if sb.first_seen(p, target_only, t1))
            stuck = [(p, lab.sandbox.port_binding(p)) for p in lsps if not sb.first_seen(p, target_only, t1)]
            wait_until(lambda: lab.playbooks_running() == 0, 1800, "the cutover runs to end")
            runs = lab.rulebook.log().count("PLAY RECAP")
        finally:
            nb.stop()
            sb.stop()
    print("## EDA burst: %d VMs get their target at once, then all succeed at once (%s, %s cores, "
          "max_concurrent_actions %s, %s, %s)" % (
              args.vms, platform.machine(), _cores(), args.max_concurrent_actions or "25 (default)", args.rulebook,
              _batching(args)))
    print("")
    print("| | first port | p50 | p95 | last port |")
    print("|---|---|---|---|---|")
    for label, values in (("NB prepared", nb_times), ("SB additional chassis", sb_times),
                          ("NB cut over", nb_cut), ("SB on the target only", sb_cut)):
        if not values:
            print("| %s | - | - | - | - |" % label)
            continue
        print("| %s | %.1f s | %.1f s | %.1f s | %.1f s |%s"
              % (label, values[0], percentile(values, 0.5), percentile(values, 0.95), values[-1],
                 "" if len(values) == len(vms) else " (%d of %d ports)" % (len(values), len(vms))))
    print("")
    if stuck:
        print("NOT on the target only after %d s: %d ports, e.g. %s" % (
            args.cutover_timeout, len(stuck), "; ".join("%s chassis %s additional %s" % (
                p, (b or {}).get("chassis"), (b or {}).get("additional_chassis")) for p, b in stuck[:3])))
    print("(prepare: from the %d Kubernetes writes of the targets, which took %.2f s, 3 s after the VMIMs were "
          "created; %d playbook runs up to the end of the prepares, %d of them started or done by t0 (pins); "
          "cutover: from the %d writes of the successes, which took %.2f s, %d playbook runs)" % (
              2 * args.vms, written, prepare_runs, pin_runs, 2 * args.vms, written_cutover, runs - prepare_runs))
    print("load average when every port was prepared: %s; at the end: %s" % (
        " ".join("%.1f" % x for x in load_prepared), " ".join("%.1f" % x for x in _load())))
    print("target every port prepared < 30 s: %s" % ("met" if sb_times[-1] < 30 else "MISSED"))


def _batching(args):
    if args.batch_window is None:
        return "batching: the default"
    return "prepare_batch_window %s s" % args.batch_window if args.batch_window else "no batching"


def _load():
    import os
    return os.getloadavg()


def _cores():
    import os
    return os.cpu_count()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.eda", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="bench", required=True)
    latency = sub.add_parser("latency", help="event -> NB / SB, one migration at a time")
    latency.add_argument("--migrations", type=int, default=20)
    burst = sub.add_parser("burst", help="many VMs migrating at once")
    burst.add_argument("--vms", type=int, default=100)
    burst.add_argument("--cutover-timeout", type=float, default=600,
                       help="seconds to wait for every port on the target only before printing what got there")
    for each in (latency, burst):
        each.add_argument("--batch-window", type=float, default=None,
                          help="the rulebook's live_migration_prepare_batch_window (default: the rulebook's "
                               "default, adaptive batching; 0: one prepare and one cutover run per VM)")
        each.add_argument("--max-concurrent-actions", type=int, default=None,
                          help="ansible-rulebook's limit of actions running at once (its default: 25)")
        each.add_argument("--rulebook", default="kubeovn.live_migration.live_migration",
                          help="rulebook (FQCN or path) with prepare and cutover rules, for comparisons")
    args = parser.parse_args(argv)
    if getattr(args, "migrations", 1) < 1 or getattr(args, "vms", 1) < 1:
        parser.error("need at least one migration")
    (run_latency if args.bench == "latency" else run_burst)(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
