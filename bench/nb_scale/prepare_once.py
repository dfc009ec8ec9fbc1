"""Child process for method (a): one prepare through the collection's module_utils, in-process.

Times connect + lookup + the mutate transaction (what ovn_lsp does, without Ansible), then prints
one JSON line. The parent reads this process's peak RSS from wait4(), so the figure is this
interpreter's own: nothing else runs in it.

    python -m bench.nb_scale.prepare_once --remote tcp:127.0.0.1:6641 --ports bench-vm.bench \
        --source node-a --target node-b
"""
import argparse
import json
import sys
import time

from . import paths

paths.use_collection()
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import nb as ovn_nb  # noqa: E402  pylint: disable=wrong-import-position


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--remote", required=True)
    parser.add_argument("--ports", nargs="+")
    parser.add_argument("--vmi")
    parser.add_argument("--namespace")
    parser.add_argument("--source", required=True)
    parser.add_argument("--target", required=True)
    args = parser.parse_args(argv)

    desired = ovn_nb.desired_options("prepared", args.source, args.target)
    lookup = ovn_nb.vif_lookup(ports=args.ports, namespace=args.namespace, vmi=args.vmi)
    start = time.perf_counter()
    with ovn_nb.connect_nb({"ovn_nb_connection": args.remote}) as client:
        result = ovn_nb.set_port_options(client, lookup, desired, comment="bench.nb_scale")
    seconds = time.perf_counter() - start
    json.dump({"seconds": seconds, "changed": result["changed"], "ports": [p["name"] for p in result["ports"]]},
              sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
