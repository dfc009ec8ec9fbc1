"""python -m kubevirt_sim --kubeconfig P [--ovn-sandbox DIR] [--step-delay S] [--cni-timeout S]
[--pinned-start] [--no-kube-ovn] [--vmi NS/NAME@NODE ...] [--pidfile F]: play KubeVirt (and, with a
sandbox, Kube-OVN's handling of the VM's ports: kube_ovn.py) against an API server until SIGTERM.

VMIs: created with --vmi at start (with a sandbox, their NICs are the VM's Kube-OVN LSPs made by
`python -m ovn_sandbox create-vm`), or created by anyone through the API (started on
spec.nodeSelector["kubernetes.io/hostname"]). Migrations: any VMIM created through the API. Labels
or annotations kubevirt-sim.test/target-node and kubevirt-sim.test/fail-at on the VMIM or the VMI
steer a migration."""
import argparse
import logging
import sys

from kubernetes import config

from serve_until_signalled import serve_until_signalled

from .simulator import KubevirtSim


def _vmi_spec(text):
    try:
        ref, node = text.rsplit("@", 1)
        namespace, name = ref.split("/", 1)
    except ValueError:
        raise argparse.ArgumentTypeError("expected NAMESPACE/NAME@NODE, got %r" % text)
    return namespace, name, node


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m kubevirt_sim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--context")
    parser.add_argument("--ovn-sandbox", metavar="DIR", help="a running sandbox (python -m ovn_sandbox start --dir DIR)")
    parser.add_argument("--step-delay", type=float, default=0.5, help="seconds between migration phases")
    parser.add_argument("--cni-timeout", type=float, help="fail a migration whose target ports OVN does not bind in time")
    parser.add_argument("--pinned-start", action="store_true",
                        help="pin a VM's ports to its node at start (Kube-OVN itself leaves them unpinned)")
    parser.add_argument("--no-kube-ovn", action="store_true",
                        help="leave out Kube-OVN's wipe of both keys when a pod of the VM goes")
    parser.add_argument("--vmi", type=_vmi_spec, action="append", default=[], metavar="NS/NAME@NODE")
    parser.add_argument("--pidfile")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s kubevirt-sim %(message)s")

    sim = None
    try:
        sandbox = None
        if args.ovn_sandbox:
            from ovn_sandbox import OvnSandbox
            sandbox = OvnSandbox.attach(args.ovn_sandbox)
        api_client = config.new_client_from_config(config_file=args.kubeconfig, context=args.context)
        sim = KubevirtSim(api_client, ovn=sandbox, step_delay=args.step_delay, cni_timeout=args.cni_timeout,
                          pinned_start=args.pinned_start, kube_ovn=not args.no_kube_ovn)
        sim.start()
        for namespace, name, node in args.vmi:
            vmi = sim.create_vmi(namespace, name, node)
            logging.info("VMI %s/%s running on %s", namespace, name, vmi["status"]["nodeName"])
    except Exception as exc:  # a clear one-line reason, not a traceback: bad path, API down, VMI exists
        detail = getattr(exc, "body", None) or exc
        sys.stderr.write("kubevirt_sim: %s: %s\n" % (type(exc).__name__, str(detail).strip()))
        if sim:
            sim.stop()
        return 1
    logging.info("watching VMIMs (step delay %ss)", args.step_delay)
    serve_until_signalled(sim.stop, args.pidfile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
