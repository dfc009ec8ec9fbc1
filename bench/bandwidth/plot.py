"""Duplicated traffic against the migration bandwidth, one line per case and memory size (PNG)."""
from pathlib import Path

from kubevirt_sim.memory_copy import quantity

from bench.downtime.plot import pyplot

MIB = 1 << 20


def duplication_png(runs, path, rate, frame_size):
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    series = {}
    for run in runs:
        if run.failure or not run.traffic:
            continue
        key = (run.case, run.memory)
        series.setdefault(key, {}).setdefault(quantity(run.bandwidth) / MIB, []).append(run)
    styles = {"unprepared": ":", "collection/playbook": "-", "collection/eda": "--"}
    for (case, memory), by_bandwidth in sorted(series.items(), key=lambda item: (item[0][0], quantity(item[0][1]))):
        xs = sorted(by_bandwidth)
        kbytes = [sum(r.traffic.extra_bytes for r in by_bandwidth[x]) / len(by_bandwidth[x]) / 1000.0 for x in xs]
        windows = [sum(r.sb_window_s or 0.0 for r in by_bandwidth[x]) / len(by_bandwidth[x]) for x in xs]
        label = "%s, %s VM" % (case, memory)
        left.plot(xs, kbytes, styles.get(case, "-"), marker="o", label=label)
        right.plot(xs, windows, styles.get(case, "-"), marker="o", label=label)
    for ax, ylabel in ((left, "duplicated traffic per migration (kB on the underlay)"),
                       (right, "dual-bound window (s, SB: prepare to cutover)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("migration bandwidth (MiB/s)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, which="both")
    right.legend(fontsize=7)
    fig.suptitle("Traffic to a VM receiving %d packets/s of %d bytes, sent twice while its port is bound on "
                 "two chassis" % (rate, frame_size), fontsize=10)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
