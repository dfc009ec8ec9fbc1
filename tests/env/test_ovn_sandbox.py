"""The OVN sandbox itself: real daemons, real SB rows, real packets through geneve between
simulated hypervisors. The live-migration sequence mirrors OVN's own activation-strategy test."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ovn_sandbox import OvnSandbox, SandboxError, packets
from ovn_sandbox.daemons import is_alive


def processes_in(workdir):
    """Pids of live processes whose command line names `workdir` (zombies do not count)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and is_alive(int(entry.name), marker=str(workdir)):
            found.append(int(entry.name))
    return found


def binding(sb, lsp, **expected):
    """Wait until the SB Port_Binding of `lsp` has every expected column value; return it."""
    def match():
        pb = sb.port_binding(lsp)
        return pb if pb and all(pb.get(k) == v for k, v in expected.items()) else None
    return sb.wait_for(match, what="%s Port_Binding %s (last: %s)" % (lsp, expected, sb.port_binding(lsp)))


def probe_reaches(sb, peers, port, lsp, payload):
    """Send a UDP probe from the peer on hv3 to the VM's MAC/IP and report which of hv1/hv2 got it.

    A negative needs a barrier: after the probe, a marker goes from the same peer to the peers
    on hv1 and hv2 over the same tunnels; once both markers are in, any copy of the probe that
    was going to arrive has arrived.
    """
    src = peers["hv3"]
    for hv in ("hv1", "hv2"):
        if sb.has_vm_port(hv, lsp):
            sb.clear_received(hv, lsp)
    sb.inject("hv3", src["name"], packets.ipv4_udp(src["mac"], port["mac"], src["ip"], port["ip"], payload))
    marker = b"marker-" + payload
    for hv in ("hv1", "hv2"):
        dst = peers[hv]
        sb.inject("hv3", src["name"], packets.ipv4_udp(src["mac"], dst["mac"], src["ip"], dst["ip"], marker))
    for hv in ("hv1", "hv2"):
        sb.wait_for(lambda: any(packets.parse(f).get("payload") == marker for f in sb.received(hv, peers[hv]["name"])),
                    what="marker at peer on %s" % hv)
    return {hv for hv in ("hv1", "hv2") if sb.has_vm_port(hv, lsp)
            and any(packets.parse(f).get("payload") == payload for f in sb.received(hv, lsp))}


def test_start_stop_leaves_no_daemon_and_hostname_matches(tmp_path):
    sb = OvnSandbox(tmp_path / "sb", hypervisors=("hv1", "hv2"), system_ids={"hv2": "chassis-2"})
    with sb:
        assert len(sb.running_pids()) == 3 + 2 + 2 * 3   # NB, SB, northd; main; 3 per hypervisor
        chassis = {line.split(",")[0]: line.split(",")[1] for line in
                   sb.sbctl("--bare", "--format=csv", "--no-headings", "--columns=name,hostname", "list", "Chassis").split()}
        assert chassis == {"hv1": "hv1", "chassis-2": "hv2"}
        assert sb.chassis_name("hv2") == "chassis-2"
        # The TCP remotes answer (other engineers' modules connect there).
        subprocess.run(["ovn-nbctl", "--db=" + sb.nb_remote, "ls-add", "over-tcp"], check=True)
        sb.wait_for(lambda: "over-tcp" in subprocess.run(
            ["ovn-sbctl", "--db=" + sb.sb_remote, "--columns=external_ids", "list", "Datapath_Binding"],
            check=True, capture_output=True, text=True).stdout, what="datapath of over-tcp via the SB TCP remote")
        # requested-chassis holding the Kubernetes node name (hostname) binds on that chassis.
        port = sb.create_vm("ns", "vm", switch="ovn-default")[0]
        sb.nbctl("set", "Logical_Switch_Port", port["name"], "options:requested-chassis=hv2")
        sb.add_vm_port("hv2", port["name"])
        binding(sb, port["name"], chassis="chassis-2", requested_chassis="chassis-2")
        state = json.loads((tmp_path / "sb" / "sandbox.json").read_text())
        assert state["nb_remote"] == sb.nb_remote and set(state["pids"].values()) == set(sb.running_pids())
    assert sb.running_pids() == []
    assert processes_in(sb.workdir) == []


def test_a_daemon_that_fails_to_start_stops_the_rest(tmp_path, monkeypatch):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "ovn-controller").write_text("#!/bin/sh\necho 'refusing to start' >&2\nexit 1\n")
    (fake / "ovn-controller").chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (fake, os.environ["PATH"]))
    sb = OvnSandbox(tmp_path / "sb", hypervisors=("hv1", "hv2"))
    with pytest.raises(SandboxError, match="ovn-controller did not start"):
        sb.start()
    assert processes_in(sb.workdir) == []


def test_atexit_stops_a_sandbox_its_process_forgot(tmp_path):
    workdir = tmp_path / "forgotten"
    script = "from ovn_sandbox import OvnSandbox; OvnSandbox(%r, hypervisors=('hv1',)).start()" % str(workdir)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=120)
    assert json.loads((workdir / "sandbox.json").read_text())["pids"]
    assert processes_in(workdir) == []


def test_vm_ports_are_kube_ovn_style_and_bind_where_plugged(ovn_sandbox, ovn_vm):
    vm = ovn_vm(providers=("net1",))
    ports = vm["ports"]
    assert [p["name"] for p in ports] == ["%s.%s" % (vm["vm"], vm["namespace"]),
                                          "%s.%s.net1" % (vm["vm"], vm["namespace"])]
    assert len({p["mac"] for p in ports}) == len({p["ip"] for p in ports}) == 2
    assert ovn_sandbox.vm_ports(vm["namespace"], vm["vm"]) == sorted(p["name"] for p in ports)
    ext = json.loads(ovn_sandbox.nbctl("--format=json", "--columns=type,external_ids,addresses", "list",
                                       "Logical_Switch_Port", ports[1]["name"]))["data"][0]
    assert ext[0] == ""
    assert dict(ext[1][1]) == {"pod": "%s/%s" % (vm["namespace"], vm["vm"]), "vendor": "kube-ovn", "ls": "ovn-default"}
    assert ext[2] == "%s %s" % (ports[1]["mac"], ports[1]["ip"])

    lsp = ports[0]["name"]
    assert ovn_sandbox.port_binding(lsp)["chassis"] is None
    ovn_sandbox.add_vm_port("hv1", lsp)
    pb = binding(ovn_sandbox, lsp, chassis="hv1", up=True)
    assert pb["additional_chassis"] == []
    ovn_sandbox.move_vm_port(lsp, "hv1", "hv3")
    binding(ovn_sandbox, lsp, chassis="hv3")
    assert ovn_sandbox.vm_port_hypervisors(lsp) == ["hv3"]


def test_live_migration_with_rarp_activation(ovn_sandbox, ovn_vm):
    sb = ovn_sandbox
    peers = {hv: sb.create_peer(hv) for hv in sb.hypervisors}
    port = ovn_vm(hv="hv1")["ports"][0]
    lsp = port["name"]

    # prepare: bound on hv1 and hv2, hv2 blocked until the VM announces itself there.
    sb.nbctl("set", "Logical_Switch_Port", lsp, 'options:requested-chassis="hv1,hv2"', "options:activation-strategy=rarp")
    binding(sb, lsp, chassis="hv1", requested_additional_chassis=["hv2"])
    sb.add_vm_port("hv2", lsp)
    pb = binding(sb, lsp, chassis="hv1", additional_chassis=["hv2"])
    assert "additional-chassis-activated" not in pb["options"]
    sb.wait_hv_sync()
    assert probe_reaches(sb, peers, port, lsp, b"before-rarp") == {"hv1"}

    # The VM resumes on hv2 and sends its RARP: hv2 activates and OVN re-injects the RARP.
    sb.clear_received()
    rarp = packets.rarp(port["mac"])
    sb.inject("hv2", lsp, rarp)
    binding(sb, lsp, options={"requested-chassis": "hv1,hv2", "activation-strategy": "rarp",
                              "additional-chassis-activated": "hv2"})
    seen = sb.wait_for(lambda: [packets.parse(f) for f in sb.received("hv3", peers["hv3"]["name"])
                                if packets.parse(f)["eth_type"] == packets.ETH_RARP],
                       what="the re-injected RARP at the peer on hv3")
    assert seen[0]["eth_src"] == port["mac"]
    assert probe_reaches(sb, peers, port, lsp, b"after-rarp") == {"hv1", "hv2"}

    # cutover: hv2 only.
    sb.nbctl("set", "Logical_Switch_Port", lsp, "options:requested-chassis=hv2",
             "--", "remove", "Logical_Switch_Port", lsp, "options", "activation-strategy")
    binding(sb, lsp, chassis="hv2", additional_chassis=[], requested_additional_chassis=[])
    sb.wait_hv_sync()
    assert "additional-chassis-activated" not in sb.port_binding(lsp)["options"]
    assert probe_reaches(sb, peers, port, lsp, b"after-cutover") == {"hv2"}


def test_bad_input_is_refused_with_a_clear_message(ovn_sandbox, tmp_path):
    before = ovn_sandbox.nbctl("--bare", "--columns=name", "list", "Logical_Switch_Port")
    with pytest.raises(SandboxError, match="no logical switch 'nope'"):
        ovn_sandbox.create_vm("ns", "vm", switch="nope")
    with pytest.raises(SandboxError, match="unknown hypervisor 'hv9'"):
        ovn_sandbox.add_vm_port("hv9", "x")
    with pytest.raises(SandboxError, match="not plugged in on hv2"):
        ovn_sandbox.inject("hv2", "not-there", packets.rarp("0a:00:00:00:00:01"))
    with pytest.raises(SandboxError, match="bad hypervisor name"):
        OvnSandbox(tmp_path, hypervisors=("main",))
    assert ovn_sandbox.nbctl("--bare", "--columns=name", "list", "Logical_Switch_Port") == before


def test_cli_sandbox_outlives_the_command_and_stops(tmp_path):
    workdir = tmp_path / "cli"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))

    def cli(*args, rc=0):
        proc = subprocess.run([sys.executable, "-m", "ovn_sandbox", args[0], "--dir", str(workdir)] + list(args[1:]),
                              capture_output=True, text=True, env=env, timeout=120, check=False)
        assert proc.returncode == rc, proc.stderr
        return json.loads(proc.stdout) if proc.stdout else proc.stderr

    try:
        started = cli("start", "--hypervisors", "hv1,hv2")
        assert started["chassis"] == {"hv1": "hv1", "hv2": "hv2"}
        assert "export OVN_NB_DB=%s" % started["nb_remote"] in (workdir / "env.sh").read_text()
        assert cli("status")["running"] is True
        vm = cli("create-vm", "--namespace", "ns", "--vm", "vm", "--hv", "hv1")
        lsp = vm["ports"][0]["name"]
        assert cli("port-binding", "--lsp", lsp)["chassis"] == "hv1"
        assert "not plugged in on hv2" in cli("inject-rarp", "--hv", "hv2", "--lsp", lsp, rc=1)
        # A NotReady node and back: one hypervisor's ovn-controller stopped, then started again.
        assert cli("stop-controller", "--hv", "hv2")["stopped_pid"]
        assert cli("status", rc=3)["daemons"]["hv2/ovn-controller"]["alive"] is False
        assert cli("start-controller", "--hv", "hv2")["pid"]
        assert cli("status")["running"] is True
    finally:
        cli("stop")
    assert cli("status", rc=3)["running"] is False
    assert processes_in(workdir) == []


def test_packets_build_and_parse():
    rarp = packets.parse(packets.rarp("0a:58:0a:10:00:02"))
    assert (rarp["eth_type"], rarp["eth_src"], rarp["eth_dst"], rarp["arp_op"]) == (0x8035, "0a:58:0a:10:00:02", packets.BROADCAST, 3)
    arp = packets.parse(packets.arp_request("0a:00:00:00:00:01", "10.0.0.1", "10.0.0.2"))
    assert (arp["eth_type"], arp["arp_op"], arp["arp_spa"], arp["arp_tpa"]) == (0x0806, 1, "10.0.0.1", "10.0.0.2")
    udp = packets.parse(packets.ipv4_udp("0a:00:00:00:00:01", "0a:00:00:00:00:02", "10.0.0.1", "10.0.0.2", b"hi", dport=99))
    assert (udp["ip_src"], udp["ip_dst"], udp["dport"], udp["payload"]) == ("10.0.0.1", "10.0.0.2", 99, b"hi")
