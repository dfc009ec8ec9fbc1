"""The summary: min / median / max gap and lost probes per case, the ratio to `unprepared`, the
target pod's wait for its network, and the issue's target as `met` / `MISSED` lines."""
import statistics

TARGET_GAP_MS = 20.0


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def by_case(samples, names):
    """[(case, successful runs)] in the order of `names`."""
    return [(name, [s for s in samples if s.case == name and not s.failure]) for name in names
            if any(s.case == name and not s.failure for s in samples)]


def failures(samples, name):
    return sum(1 for s in samples if s.case == name and s.failure)


def gap_table(samples, names):
    groups = by_case(samples, names)
    base = dict(groups).get("unprepared")
    base_median = statistics.median(s.gap.gap_ms for s in base) if base else None
    lines = ["| case | runs | probes sent (median) | gap min (ms) | gap median (ms) | gap max (ms) "
             "| lost min | lost median | lost max | median gap / unprepared | sender's worst stall (ms) | failed migrations |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, runs in groups:
        gaps = [s.gap.gap_ms for s in runs]
        lost = [s.gap.lost for s in runs]
        median = statistics.median(gaps)
        if base_median:
            ratio = "%.3f" % (median / base_median)
        else:
            ratio = "-"
        lines.append("| %s | %d | %d | %.1f | %.1f | %.1f | %d | %g | %d | %s | %.1f | %d |" % (
            name, len(runs), statistics.median(s.gap.sent for s in runs), min(gaps), median, max(gaps),
            min(lost), statistics.median(lost), max(lost), ratio, max(s.gap.max_send_interval_ms for s in runs),
            failures(samples, name)))
    return "\n".join(lines)


def wait_table(samples, names):
    lines = ["| case | runs | target pod scheduled -> target chassis in SB: p50 (ms) | p95 (ms) | max (ms) |",
             "|---|---:|---:|---:|---:|"]
    for name, runs in by_case(samples, names):
        if name == "unprepared":
            continue
        waits = [s.sched_to_sb_ms for s in runs if s.sched_to_sb_ms is not None]
        if not waits:
            lines.append("| %s | 0 | - | - | - |" % name)
            continue
        lines.append("| %s | %d | %.0f | %.0f | %.0f |" % (name, len(waits), percentile(waits, 0.5),
                                                           percentile(waits, 0.95), max(waits)))
    return "\n".join(lines)


def runs_list(samples):
    """Every run, for the notes: gap, where it started relative to the switchover, lost, wait."""
    lines = []
    for s in samples:
        if s.failure:
            lines.append("%-20s FAILED after %.1f s: %s" % (s.case, s.wall_s, s.failure))
            continue
        wait = "%.0f ms" % s.sched_to_sb_ms if s.sched_to_sb_ms is not None else "-"
        lines.append("%-20s gap %7.1f ms (starts %+8.1f ms from the switchover), lost %4d of %5d, "
                     "at the target before the switchover %d, scheduled->SB %s, run %.1f s"
                     % (s.case, s.gap.gap_ms, s.gap.gap_offset_ms, s.gap.lost, s.gap.sent, s.gap.early_at_target,
                        wait, s.wall_s))
    return lines


def targets(samples, names):
    lines = []
    for name, runs in by_case(samples, names):
        if name == "unprepared":
            continue
        median = statistics.median(s.gap.gap_ms for s in runs)
        lines.append("%s: median gap %.1f ms (target <= %.0f ms): %s" % (
            name, median, TARGET_GAP_MS, "met" if median <= TARGET_GAP_MS else "MISSED"))
    return lines
