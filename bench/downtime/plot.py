"""A per-migration timeline as a PNG (matplotlib, headless): probes per chassis over time, with
prepare, the RARP and the cutover marked. Shared by bench.downtime and bench.bandwidth."""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

BIN = 0.05      # seconds per bar of the probe rate


@dataclass
class Timeline:
    title: str
    interval: float                         # seconds between probes
    lanes: Dict[str, List[float]]           # label -> send instants (s from the start) of the probes seen there
    marks: Dict[str, float] = field(default_factory=dict)   # label -> instant (s from the start)
    end: float = 0.0


def relative(instants, start):
    return [t - start for t in instants]


def pyplot():
    import matplotlib
    matplotlib.use("Agg")           # no display: write files only
    import matplotlib.pyplot as plt
    return plt


def rate(instants, end):
    """(bin starts, probes per second) over [0, end)."""
    bins = max(1, int(end / BIN) + 1)
    counts = [0] * bins
    for t in instants:
        if 0 <= t < bins * BIN:
            counts[int(t / BIN)] += 1
    return [i * BIN for i in range(bins)], [c / BIN for c in counts]


def timeline_png(timeline, path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.2), dpi=110)
    end = timeline.end or max((max(v) for v in timeline.lanes.values() if v), default=1.0)
    # Later lanes dashed and on top: a lane that follows an earlier one stays visible.
    for index, (label, instants) in enumerate(timeline.lanes.items()):
        xs, ys = rate(instants, end)
        ax.step(xs, ys, where="post", label=label, linewidth=1.2, linestyle=("-", "--", ":")[index % 3],
                zorder=2 + index)
    top = 1.15 / timeline.interval
    colours = {"prepare": "tab:green", "RARP": "tab:red", "cutover": "tab:purple"}
    for index, (label, at) in enumerate(sorted(timeline.marks.items(), key=lambda item: item[1])):
        colour = next((c for key, c in colours.items() if label.startswith(key)), "grey")
        ax.axvline(at, color=colour, linestyle="--", linewidth=1)
        ax.text(at, top * (0.97 - 0.07 * (index % 3)), " " + label, color=colour, fontsize=8, va="top")
    ax.set_xlim(0, end)
    ax.set_ylim(0, top)
    ax.set_xlabel("seconds since the migration started (probe send time)")
    ax.set_ylabel("probes/s (%.0f ms bins)" % (BIN * 1000))
    ax.set_title(timeline.title, fontsize=10)
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
