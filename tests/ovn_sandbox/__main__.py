"""Command line for molecule, demos and playbooks: a sandbox that outlives the command.

    python -m ovn_sandbox start --dir D [--hypervisors hv1,hv2,hv3] [--system-id hv1=chassis-1] [--tls] [--clustered]
    python -m ovn_sandbox status|stop --dir D
    python -m ovn_sandbox create-vm --dir D --namespace NS --vm VM [--providers net1,net2] [--hv hv1]
    python -m ovn_sandbox create-peer --dir D --hv hv3 [--name N]
    python -m ovn_sandbox add-port|remove-port --dir D --hv HV --lsp LSP
    python -m ovn_sandbox move-port --dir D --lsp LSP --src HV --dst HV
    python -m ovn_sandbox inject-rarp --dir D --hv HV --lsp LSP [--mac MAC]
    python -m ovn_sandbox port-binding --dir D --lsp LSP
    python -m ovn_sandbox stop-controller|start-controller --dir D --hv HV   (a NotReady node and back)

start writes D/sandbox.json (remotes, chassis, pids) and D/env.sh (OVN_NB_DB, OVN_SB_DB).
Every command prints JSON on stdout; errors go to stderr with exit status 1 (status: 3 when
the sandbox is not running).
"""
import argparse
import json
import sys
from pathlib import Path

from . import packets
from .daemons import SandboxError, is_alive
from .sandbox import STATE_FILE, OvnSandbox


def _csv(text):
    return [part for part in text.split(",") if part]


def _system_ids(pairs):
    ids = {}
    for pair in pairs or ():
        hv, sep, chassis = pair.partition("=")
        if not sep or not hv or not chassis:
            raise SandboxError("--system-id wants HV=CHASSIS, got %r" % pair)
        ids[hv] = chassis
    return ids


def _running(directory):
    sandbox = OvnSandbox.attach(directory)
    if not sandbox.started:
        raise SandboxError("the sandbox in %s is not running" % directory)
    return sandbox


def cmd_start(args):
    sandbox = OvnSandbox(args.dir, _csv(args.hypervisors), _system_ids(args.system_id),
                         tls=args.tls, clustered=args.clustered)
    sandbox.start(stop_at_exit=False)
    return sandbox.state()


def cmd_stop(args):
    sandbox = OvnSandbox.attach(args.dir)
    sandbox.stop()
    return {"stopped": True, "running_pids": sandbox.running_pids()}


def cmd_status(args):
    if not (Path(args.dir) / STATE_FILE).exists():
        return {"workdir": args.dir, "running": False, "daemons": {}}
    sandbox = OvnSandbox.attach(args.dir)
    daemons = {name: {"pid": pid, "alive": is_alive(pid, str(sandbox.workdir))} for name, pid in sandbox.pids.items()}
    state = dict(sandbox.state(), running=all(d["alive"] for d in daemons.values()), daemons=daemons)
    return state


def cmd_create_vm(args):
    sandbox = _running(args.dir)
    ports = sandbox.create_vm(args.namespace, args.vm, providers=_csv(args.providers), switch=args.switch)
    if args.hv:
        for port in ports:
            sandbox.add_vm_port(args.hv, port["name"])
        _wait_bound(sandbox, args.hv, [p["name"] for p in ports])
    return {"namespace": args.namespace, "vm": args.vm, "ports": ports}


def cmd_create_peer(args):
    return _running(args.dir).create_peer(args.hv, name=args.name)


def cmd_add_port(args):
    sandbox = _running(args.dir)
    sandbox.add_vm_port(args.hv, args.lsp)
    return {"hv": args.hv, "lsp": args.lsp, "plugged": True}


def cmd_remove_port(args):
    sandbox = _running(args.dir)
    sandbox.remove_vm_port(args.hv, args.lsp)
    return {"hv": args.hv, "lsp": args.lsp, "plugged": False}


def cmd_move_port(args):
    sandbox = _running(args.dir)
    sandbox.move_vm_port(args.lsp, args.src, args.dst)
    return {"lsp": args.lsp, "hypervisors": sandbox.vm_port_hypervisors(args.lsp)}


def cmd_inject_rarp(args):
    sandbox = _running(args.dir)
    mac = args.mac or (sandbox._lsp_address(args.lsp) or {}).get("mac")
    if not mac:
        raise SandboxError("no MAC for %s: it has no addresses in the NB; pass --mac" % args.lsp)
    sandbox.inject(args.hv, args.lsp, packets.rarp(mac))
    return {"hv": args.hv, "lsp": args.lsp, "mac": mac}


def cmd_port_binding(args):
    return _running(args.dir).port_binding(args.lsp)


def cmd_stop_controller(args):
    return {"hv": args.hv, "stopped_pid": _running(args.dir).stop_controller(args.hv)}


def cmd_start_controller(args):
    return {"hv": args.hv, "pid": _running(args.dir).restart_controller(args.hv)}


def _wait_bound(sandbox, hv, names):
    chassis = sandbox.chassis_name(hv)
    for name in names:
        sandbox.wait_for(lambda: (sandbox.port_binding(name) or {}).get("chassis") == chassis,
                         what="%s bound on %s" % (name, hv))


def parser():
    top = argparse.ArgumentParser(prog="python -m ovn_sandbox", description="User-space OVN sandbox")
    sub = top.add_subparsers(dest="command", required=True)

    def command(name, func, help_text):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--dir", required=True, help="the sandbox's directory")
        p.set_defaults(func=func)
        return p

    p = command("start", cmd_start, "start NB, SB, northd and the hypervisors; they keep running")
    p.add_argument("--hypervisors", default="hv1,hv2,hv3", help="comma-separated names (default hv1,hv2,hv3)")
    p.add_argument("--system-id", action="append", metavar="HV=CHASSIS", help="chassis name for HV (repeatable)")
    p.add_argument("--tls", action="store_true", help="NB and SB over ssl: with ovs-pki certificates in DIR/pki")
    p.add_argument("--clustered", action="store_true", help="NB and SB as 3-member RAFT clusters")
    command("stop", cmd_stop, "stop every daemon of the sandbox")
    command("status", cmd_status, "remotes and daemons; exit 3 if not running")
    p = command("create-vm", cmd_create_vm, "create a VM's Kube-OVN style LSPs")
    p.add_argument("--namespace", required=True)
    p.add_argument("--vm", required=True)
    p.add_argument("--providers", default="", help="comma-separated attachment providers")
    p.add_argument("--switch", default="ovn-default")
    p.add_argument("--hv", help="also plug the ports in on this hypervisor and wait for the binding")
    p = command("create-peer", cmd_create_peer, "an ordinary LSP bound on a hypervisor")
    p.add_argument("--hv", required=True)
    p.add_argument("--name")
    for name, func in (("add-port", cmd_add_port), ("remove-port", cmd_remove_port), ("inject-rarp", cmd_inject_rarp)):
        p = command(name, func, name.replace("-", " ") + " on a hypervisor")
        p.add_argument("--hv", required=True)
        p.add_argument("--lsp", required=True)
        if name == "inject-rarp":
            p.add_argument("--mac", help="default: the LSP's MAC in the NB")
    p = command("move-port", cmd_move_port, "plug on --dst, then unplug from --src")
    p.add_argument("--lsp", required=True)
    p.add_argument("--src", required=True)
    p.add_argument("--dst", required=True)
    p = command("port-binding", cmd_port_binding, "the SB Port_Binding with chassis names")
    p.add_argument("--lsp", required=True)
    for name, func in (("stop-controller", cmd_stop_controller), ("start-controller", cmd_start_controller)):
        p = command(name, func, "stop (a NotReady node) or start again one hypervisor's ovn-controller")
        p.add_argument("--hv", required=True)
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        result = args.func(args)
    except (SandboxError, TimeoutError) as exc:
        print("ovn_sandbox %s: %s" % (args.command, exc), file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, default=str))
    if args.command == "status" and not result["running"]:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
