"""python -m prometheus_stack WORKDIR [--rules FILE ...] [--pidfile P]: a Pushgateway (and a
Prometheus scraping it with the rules, when some are given) until SIGTERM."""
import argparse
import sys

from serve_until_signalled import serve_until_signalled

from .stack import PrometheusStack, StackError


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m prometheus_stack", description=__doc__)
    parser.add_argument("workdir")
    parser.add_argument("--rules", action="append", default=[], help="a Prometheus rules file (repeatable)")
    parser.add_argument("--prometheus", action="store_true", help="start Prometheus even without rules")
    parser.add_argument("--pidfile", help="write this process id here")
    args = parser.parse_args(argv)
    stack = PrometheusStack(args.workdir, rule_files=args.rules, with_prometheus=args.prometheus or None)
    try:
        stack.start()
    except StackError as exc:
        sys.stderr.write("%s\n" % exc)
        return 1
    line = "pushgateway %s" % stack.pushgateway.url
    if stack.prometheus:
        line += " prometheus %s" % stack.prometheus.url
    serve_until_signalled(stack.stop, args.pidfile, line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
