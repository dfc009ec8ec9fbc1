"""Fallback memory meter when /usr/bin/time is missing: run as `python -I -S rusage_launcher.py
REPORT CMD...`; it runs CMD, writes CMD's ru_maxrss (KiB) to REPORT and exits with CMD's status.
Standard library only and no site packages, so that this parent (the child's floor) stays small."""
import os
import sys


def main():
    report, argv = sys.argv[1], sys.argv[2:]
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _pid, status, usage = os.wait4(pid, 0)
    with open(report, "w") as f:
        f.write("%d\n" % usage.ru_maxrss)
    sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)


if __name__ == "__main__":
    main()
