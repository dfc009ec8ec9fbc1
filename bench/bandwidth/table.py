"""The bandwidth bench's tables and its agreement check, as Markdown lines."""
from statistics import median

AGREEMENT = 0.10        # the bench's dual-bound window (SB) and the metrics' window agree within 10 %


def fmt(value, digits=2):
    return "-" if value is None else "%.*f" % (digits, value)


def agree(run):
    """True/False: the SB window and the metrics' window within AGREEMENT; None: nothing to compare."""
    if not run.sb_window_s or run.metrics_window_s is None:
        return None
    return abs(run.metrics_window_s - run.sb_window_s) <= AGREEMENT * run.sb_window_s


def groups(runs):
    """Successful runs by (case, memory, bandwidth), in the order they ran."""
    found = {}
    for run in runs:
        if not run.failure:
            found.setdefault((run.case, run.memory, run.bandwidth), []).append(run)
    return found


def cost_table(runs):
    lines = ["| case | memory | bandwidth/s | runs | model copy s | dual-bound window s (SB) | metrics window s "
             "| duplication s (captures) | to target before RARP (dropped there) | duplicated after RARP "
             "| extra packets | extra kB on the underlay | extra % of the VM's traffic | gap ms | lost |",
             "|" + "---|" * 15]
    for (case, memory, bandwidth), found in groups(runs).items():
        def med(get, found=found):
            values = [v for v in (get(r) for r in found) if v is not None]
            return median(values) if values else None
        lines.append("| %s | %s | %s | %d | %s | %s | %s | %s | %s (%s) | %s | %s | %s | %s | %s | %s |" % (
            case, memory, bandwidth, len(found), fmt(found[0].model.seconds),
            fmt(med(lambda r: r.sb_window_s)), fmt(med(lambda r: r.metrics_window_s)),
            fmt(med(lambda r: r.traffic.window_s)),
            fmt(med(lambda r: r.traffic.to_target_before), 0),
            fmt(med(lambda r: r.traffic.to_target_before - r.traffic.delivered_before), 0),
            fmt(med(lambda r: r.traffic.duplicated_after), 0), fmt(med(lambda r: r.traffic.extra_packets), 0),
            fmt(med(lambda r: r.traffic.extra_bytes / 1000.0), 1),
            fmt(med(lambda r: 100.0 * r.traffic.extra_packets / r.traffic.sent if r.traffic.sent else None), 1),
            fmt(med(lambda r: r.gap.gap_ms), 1), fmt(med(lambda r: r.gap.lost), 0)))
    return "\n".join(lines)


def agreement_lines(runs):
    """One line per case that bound a port on two chassis: how many runs' metrics window agrees
    with the SB window within AGREEMENT, and how many runs the metrics gave no window for."""
    lines = []
    for case in dict.fromkeys(run.case for run in runs if run.sb_window_s):
        dual = [run for run in runs if run.case == case and run.sb_window_s]
        compared = [run for run in dual if agree(run) is not None]
        missing = len(dual) - len(compared)
        head = "window agreement, %s (SB vs metrics, within %d %%): " % (case, AGREEMENT * 100)
        if not compared:
            lines.append(head + "no run had a window in the metrics (%d runs): MISSED" % missing)
            continue
        good = sum(1 for run in compared if agree(run))
        worst = max(abs(r.metrics_window_s - r.sb_window_s) / r.sb_window_s for r in compared)
        lines.append(head + "%d of %d runs, worst %.1f %%%s: %s" % (
            good, len(compared), worst * 100, ", %d without a window in the metrics" % missing if missing else "",
            "met" if good == len(dual) else "MISSED"))
    return lines or ["window agreement: no run bound a port on two chassis"]


def runs_list(runs):
    lines = []
    for run in runs:
        if run.failure:
            lines.append("%s %s %s/s: FAILED %s" % (run.case, run.memory, run.bandwidth, run.failure))
            continue
        t = run.traffic
        lines.append("%s %s %s/s: dual-bound %s s (metrics %s), duplication %.3f s, %d sent, %d to target before RARP "
                     "(%d delivered), %d duplicated after, %d extra (%d B), gap %.1f ms" % (
                         run.case, run.memory, run.bandwidth, fmt(run.sb_window_s, 3),
                         fmt(run.metrics_window_s, 3), t.window_s, t.sent, t.to_target_before, t.delivered_before,
                         t.duplicated_after, t.extra_packets, t.extra_bytes, run.gap.gap_ms))
    return lines
