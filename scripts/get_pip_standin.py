"""Stand-in for the get-pip script ansible-test downloads (that host is unreachable here).

ansible-test looks for ~/.ansible/test/cache/get_pip_<version>.py before downloading, and runs
it with the target venv's python and pip's own arguments. We bootstrap pip from the standard
library, then let that pip install what was asked, with the machine's pip configuration.
"""
import ensurepip
import os
import subprocess
import sys

DROPPED = {"--no-setuptools", "--no-wheel"}


def main():
    ensurepip.bootstrap(upgrade=True)
    # ensurepip sets PIP_CONFIG_FILE=/dev/null in this process: the second pip must see the
    # machine's pip.conf (certificates, mirrors), so give it an environment without PIP_*.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") or k == "PIP_BREAK_SYSTEM_PACKAGES"}
    args = [a for a in sys.argv[1:] if a not in DROPPED]
    if args:
        subprocess.check_call([sys.executable, "-m", "pip", "install"] + args, env=env)


if __name__ == "__main__":
    main()
