"""Start, drive and stop the lab (see README.md in this directory).

    lab.py up --dir D [--step-delay S] [--cni-timeout T] [--hypervisors hv1,hv2,hv3]
    lab.py down --dir D
    lab.py ACTION --dir D [key=value ...]     values are JSON when they parse as JSON

Prints the action's result as JSON; exits 1 with the error on stderr when it fails.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(HERE)]


def _info(directory):
    path = Path(directory) / "lab.json"
    if not path.exists():
        raise SystemExit("lab: no lab running in %s (run: lab.py up --dir %s)" % (directory, directory))
    return json.loads(path.read_text())


def up(args):
    from ovn_sandbox import OvnSandbox
    workdir = Path(args.dir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if (workdir / "lab.json").exists():
        down(args)
    sandbox = OvnSandbox(str(workdir / "ovn"), [h for h in args.hypervisors.split(",") if h])
    sandbox.start(stop_at_exit=False)
    cmd = [sys.executable, str(HERE / "lab_server.py"), "--dir", str(workdir), "--step-delay", str(args.step_delay)]
    if args.cni_timeout is not None:
        cmd += ["--cni-timeout", str(args.cni_timeout)]
    log = open(workdir / "lab_server.log", "ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while not (workdir / "lab.json").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            sandbox.stop()
            tail = (workdir / "lab_server.log").read_text()[-3000:]
            raise SystemExit("lab: the lab server did not start:\n" + tail)
        time.sleep(0.1)
    info = _info(workdir)
    (workdir / "env.sh").write_text(
        "# Source me: the lab in %s as a cluster.\n" % workdir
        + "export OVN_NB_DB=%s\nexport OVN_SB_DB=%s\nexport K8S_AUTH_KUBECONFIG=%s\nexport LAB_DIR=%s\n"
        % (info["nb_remote"], info["sb_remote"], info["kubeconfig"], workdir))
    return info


def down(args):
    workdir = Path(args.dir).resolve()
    stopped = []
    path = workdir / "lab.json"
    if path.exists():
        pid = json.loads(path.read_text())["pid"]
        try:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                os.kill(pid, 0)
                if Path("/proc/%d/status" % pid).exists() and "zombie" in Path("/proc/%d/status" % pid).read_text():
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        path.unlink()
        stopped.append("lab server %d" % pid)
    if (workdir / "ovn").exists():
        from ovn_sandbox import OvnSandbox
        try:
            OvnSandbox.attach(str(workdir / "ovn")).stop()
            stopped.append("ovn sandbox")
        except Exception as exc:   # never started, or already stopped
            stopped.append("ovn sandbox: %s" % exc)
    return {"stopped": stopped}


def call(directory, action, params, timeout=120):
    info = _info(directory)
    request = urllib.request.Request(info["control_url"] + "/" + action, data=json.dumps(params).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = json.loads(response.read())
    if not body["ok"]:
        raise SystemExit("lab: %s failed: %s" % (action, body["error"]))
    return body["result"]


def _params(pairs):
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit("lab: expected key=value, got %r" % pair)
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--step-delay", type=float, default=0.2)
    parser.add_argument("--cni-timeout", type=float, default=None)
    parser.add_argument("--hypervisors", default="hv1,hv2,hv3")
    parser.add_argument("params", nargs="*", help="key=value")
    args = parser.parse_intermixed_args(argv)
    if args.action == "up":
        result = up(args)
    elif args.action == "down":
        result = down(args)
    elif args.action == "report":
        from report import render
        sys.stdout.write(render(call(args.dir, "timeline", {})["events"], **_params(args.params)))
        return 0
    else:
        result = call(args.dir, args.action, _params(args.params))
    sys.stdout.write(json.dumps(result, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
