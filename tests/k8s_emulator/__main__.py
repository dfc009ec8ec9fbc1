"""python -m k8s_emulator --port 18080 [--token T] [--identity TOKEN=USER ...] [--rbac MANIFEST ...] [--tls]
[--kubeconfig PATH] [--pidfile P]: serve until SIGTERM."""
import argparse
import sys

from serve_until_signalled import serve_until_signalled

from .emulator import K8sEmulator


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m k8s_emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--token", help="require this bearer token")
    parser.add_argument("--kubeconfig", help="write a kubeconfig (context 'emulator') here")
    parser.add_argument("--pidfile", help="write this process id here")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS (the kubeconfig names the generated CA)")
    parser.add_argument("--history", type=int, default=1000, help="watch events kept for resourceVersion replay")
    parser.add_argument("--identity", action="append", default=[], metavar="TOKEN=USER",
                        help="a bearer token and the user it stands for (system:serviceaccount:NS:NAME)")
    parser.add_argument("--rbac", action="append", default=[], metavar="MANIFEST",
                        help="enforce the Roles/ClusterRoles and bindings of this YAML file (403 otherwise)")
    args = parser.parse_args(argv)

    tokens = dict(item.split("=", 1) for item in args.identity)
    emulator = K8sEmulator(token=args.token, history=args.history, port=args.port, host=args.host,
                           tls=args.tls, tokens=tokens)
    if args.rbac:
        emulator.enforce_rbac(*args.rbac)
    try:
        emulator.start()
    except OSError as exc:
        sys.stderr.write("cannot listen on %s:%d: %s\n" % (args.host, args.port, exc))
        return 1
    if args.kubeconfig:
        emulator.write_kubeconfig(args.kubeconfig)
    serve_until_signalled(emulator.stop, args.pidfile, "k8s emulator listening on %s" % emulator.url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
