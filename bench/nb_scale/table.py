"""Summaries of the samples: a Markdown table (median and max) and the issue's targets."""
import statistics
from collections import OrderedDict

# The issue states its targets at this size.
TARGET_SIZE = 50000
# At the largest size, (a) by name may take at most this times its time and memory at the smallest...
MAX_GROWTH = 1.5
# ...and at most this fraction of ovn-nbctl's time.
MAX_SHARE_OF_NBCTL = 1.0 / 20


def group(samples):
    groups = OrderedDict()
    for s in samples:
        groups.setdefault((s.size, s.method, s.selector), []).append(s)
    return groups


def medians(samples):
    """{(size, method, selector): (median seconds, median peak RSS in KiB)}."""
    return dict((key, (statistics.median(s.seconds for s in group_),
                       statistics.median(s.maxrss_kb for s in group_)))
                for key, group_ in group(samples).items())


def markdown(samples):
    lines = [
        "| LSPs in NB | method | ports selected by | runs | time median (ms) | time max (ms) "
        "| peak RSS median (MB) | peak RSS max (MB) | process wall median (ms) |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for (size, method, selector), runs in group(samples).items():
        times = [s.seconds * 1000 for s in runs]
        rss = [s.maxrss_kb / 1024.0 for s in runs]
        wall = [s.wall * 1000 for s in runs]
        lines.append("| %s | %s | %s | %d | %.1f | %.1f | %.1f | %.1f | %.0f |" % (
            "{:,}".format(size), method, "vmi+namespace" if selector == "vmi" else "name", len(runs),
            statistics.median(times), max(times), statistics.median(rss), max(rss), statistics.median(wall)))
    return "\n".join(lines)


def targets(samples, module_utils, nbctl):
    """The issue's targets as text lines, each ending in `met` or `MISSED` (never an assertion)."""
    med = medians(samples)
    sizes = sorted(set(s.size for s in samples))
    small, large = sizes[0], sizes[-1]
    a_small, a_large = med.get((small, module_utils, "name")), med.get((large, module_utils, "name"))
    c_large = med.get((large, nbctl, "name"))
    if large < TARGET_SIZE:
        return ["targets: stated at %s LSPs; the largest size here is %s" % ("{:,}".format(TARGET_SIZE), "{:,}".format(large))]
    lines = []
    if a_small and a_large and large != small:
        for what, index in (("time", 0), ("peak RSS", 1)):
            ratio = a_large[index] / a_small[index]
            lines.append("(a) %s at %s LSPs / at %s: %.2fx (target <= %.1fx): %s" % (
                what, "{:,}".format(large), "{:,}".format(small), ratio, MAX_GROWTH, verdict(ratio <= MAX_GROWTH)))
    if a_large and c_large:
        share = a_large[0] / c_large[0]
        lines.append("(a) time / (c) time at %s LSPs: 1/%.0f (target <= 1/%.0f): %s" % (
            "{:,}".format(large), 1 / share, 1 / MAX_SHARE_OF_NBCTL, verdict(share <= MAX_SHARE_OF_NBCTL)))
    return lines


def verdict(ok):
    return "met" if ok else "MISSED"
