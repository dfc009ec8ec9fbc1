"""The demo's verdict: packets and final OVN state of a VM migrated from SOURCE to TARGET.

    demo_check.py --dir D --namespace NS --vm VM --source hv1 --target hv2

Reads the lab's timeline (probe results) and the ports' NB/SB state; prints one line per check
and a final verdict; exits 0 only when every check passed.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lab import call  # noqa: E402


def probe_results(events, label_prefix):
    """{port: "hv1,hv2"} of the last probe whose label starts with label_prefix."""
    found = {}
    for event in sorted(events, key=lambda e: e["t"]):
        if event["source"] == "probe" and event["field"].startswith(label_prefix):
            found[event["object"]] = event["after"]
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ("dir", "namespace", "vm", "source", "target"):
        parser.add_argument("--" + name, required=True)
    args = parser.parse_args()
    vm = "%s/%s" % (args.namespace, args.vm)
    events = [e for e in call(args.dir, "timeline", {})["events"] if e.get("vm") == vm]
    ports = call(args.dir, "ports", {"namespace": args.namespace, "vm": args.vm})["ports"]
    names = [p["name"] for p in ports]
    checks = []

    for label, want in (("before", args.source), ("after RARP", "%s,%s" % tuple(sorted((args.source, args.target)))),
                        ("after cutover", args.target)):
        got = probe_results(events, label)
        for name in names:
            reached = got.get(name, "not probed")
            checks.append((reached == want, "packets to %-14s %-15s reached %-10s (expected %s)"
                           % (name, label, reached, want)))

    for port in ports:
        binding = port["binding"] or {}
        ok = (binding.get("chassis") == args.target and not binding.get("additional_chassis")
              and not binding.get("requested_additional_chassis"))
        checks.append((ok, "SB %-14s chassis=%s additional=%s"
                       % (port["name"], binding.get("chassis"), binding.get("additional_chassis") or "none")))
        options = port["options"]
        ok = ('requested-chassis=%s' % args.target in options or '"requested-chassis"=%s' % args.target in options) \
            and "activation-strategy" not in options
        checks.append((ok, "NB %-14s options %s" % (port["name"], options)))

    for ok, text in checks:
        sys.stdout.write("  [%s] %s\n" % ("ok" if ok else "FAIL", text))
    failed = [text for ok, text in checks if not ok]
    if failed:
        sys.stdout.write("VERDICT: FAIL - %d of %d checks failed (first: %s)\n" % (len(failed), len(checks), failed[0].strip()))
        return 1
    sys.stdout.write("VERDICT: PASS - %s/%s (%d NICs) moved %s -> %s; traffic reached %s before, both after the "
                     "RARP, %s alone after cutover\n" % (args.namespace, args.vm, len(names), args.source, args.target,
                                                         args.source, args.target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
