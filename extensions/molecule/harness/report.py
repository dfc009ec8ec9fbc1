"""Render the observer's timeline for a person: the state before, then per VMIM phase what
changed in the Northbound, the Southbound and Kubernetes, and when, with the probes' results."""
import time


def _clock(t):
    return time.strftime("%H:%M:%S", time.localtime(t)) + ".%03d" % int((t % 1) * 1000)


def _value(value):
    return "-" if value in (None, "") else str(value)


def render(events, namespace=None, vm=None):
    if namespace and vm:
        events = [e for e in events if e.get("vm") in (None, "%s/%s" % (namespace, vm))]
    events = sorted(events, key=lambda e: e["t"])
    starts = [e for e in events if e["source"] == "K8s" and e["object"].startswith("vmim/")]
    t0 = starts[0]["t"] if starts else (events[-1]["t"] + 1 if events else 0)
    title = "%s/%s" % (namespace, vm) if namespace and vm else "the watched VMs"
    lines = ["Timeline of %s (ms after the first migration object appeared; the recorder polls every 10 ms)" % title, ""]

    before = {}
    for event in events:
        if event["t"] >= t0:
            break
        before[(event["source"], event["object"], event["field"])] = event["after"]
    if before:
        lines.append("Before the migration")
        for (source, obj, field), value in sorted(before.items()):
            if source == "probe":
                lines.append("    probe %-28s %-14s reached %s" % (field, obj, value))
            elif value is not None:
                lines.append("    %-5s %-18s %s = %s" % (source, obj, field, _value(value)))
        lines.append("")

    for event in events:
        if event["t"] < t0:
            continue
        offset = "%+6d ms" % round((event["t"] - t0) * 1000)
        source, obj, field = event["source"], event["object"], event["field"]
        if source == "K8s" and obj.startswith("vmim/"):
            lines.append("%s  %s  %s  phase %s" % (offset, _clock(event["t"]), obj, _value(event["after"])))
        elif source == "probe":
            lines.append("%s      probe %-24s %-16s reached %s" % (offset, field, obj, _value(event["after"])))
        elif source == "lab":
            lines.append("%s      lab   %s %s: %s" % (offset, obj, field, _value(event["after"])))
        else:
            change = "%s -> %s" % (_value(event["before"]), _value(event["after"]))
            lines.append("%s      %-5s %-18s %s: %s" % (offset, source, obj, field, change))
    lines += ["", "Reading it: prepare (NB requested-chassis SRC,DST + activation-strategy=rarp) must land soon after",
              "the target pod is scheduled; the SB then lists DST as additional chassis, blocked until the guest's RARP",
              "(additional-chassis-activated); cutover (NB requested-chassis DST) leaves DST as the only chassis."]
    return "\n".join(lines) + "\n"
