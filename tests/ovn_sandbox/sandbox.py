"""A real OVN deployment in user space, in a directory of its own (OVN's tests/ovn-macros.at way).

Layout under `workdir`: ovn-nb/ and ovn-sb/ (one ovsdb-server each, unix socket plus TCP on
127.0.0.1), northd/ (ovn-northd), main/ (the simulated underlay: one Open_vSwitch with bridge n1)
and one directory per hypervisor (own ovsdb-server, ovs-vswitchd with dummy netdevs, br-int,
br-phys plugged into n1, ovn-controller). Geneve runs between encap IPs 127.0.10.N that exist
only inside the dummy datapaths: nothing touches the host's network or kernel.
"""
import atexit
import json
import os
import re
import shlex
import shutil
import signal
import time
from pathlib import Path

from .cluster import CentralDbs
from .daemons import SandboxError, is_alive, log_tail, read_pid, run, start_daemon, stop_pids
from .kubeovn import KubeOvnTopology
from .ovsdb_json import quote, rows
from .tls import Pki
from .vifs import Vifs

NB_SCHEMA = "/usr/share/ovn/ovn-nb.ovsschema"
SB_SCHEMA = "/usr/share/ovn/ovn-sb.ovsschema"
VSWITCH_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
BINARIES = ("ovsdb-server", "ovsdb-tool", "ovs-vswitchd", "ovs-vsctl", "ovs-appctl",
            "ovn-northd", "ovn-controller", "ovn-nbctl", "ovn-sbctl")
UNDERLAY = "n1"
RESERVED = {"main", "ovn-nb", "ovn-sb", "northd"}
STATE_FILE = "sandbox.json"


class OvnSandbox(Vifs, KubeOvnTopology, CentralDbs):
    """NB + SB + northd + simulated hypervisors. See tests/ovn_sandbox/__init__.py for the API.

    tls=True: NB and SB listen on ssl: only (plus their unix sockets) with certificates made by
    ovs-pki in <workdir>/pki; northd and the ovn-controllers connect over ssl:; `client_tls`
    holds the modules' private_key/certificate/ovn_ca_cert. clustered=True: NB and SB are 3-member
    RAFT clusters (cluster.py); every remote lists all members.
    """

    def __init__(self, workdir, hypervisors=("hv1", "hv2", "hv3"), system_ids=None, tls=False, clustered=False):
        self.workdir = Path(workdir).resolve()
        self.tls = bool(tls)
        self.clustered = bool(clustered)
        self.pki = Pki(self.workdir / "pki") if self.tls else None
        self.members = {}       # "ovn-nb"/"ovn-sb" -> member dicts (cluster.py)
        self.hypervisors = list(hypervisors)
        self.system_ids = dict(system_ids or {})
        for hv in self.hypervisors:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,30}", hv) or hv in RESERVED:
                raise SandboxError("bad hypervisor name %r (letters, digits, - and _; not %s)" % (hv, sorted(RESERVED)))
        unknown = set(self.system_ids) - set(self.hypervisors)
        if unknown:
            raise SandboxError("system_ids names unknown hypervisors: %s" % sorted(unknown))
        if len(set(self.hypervisors)) != len(self.hypervisors):
            raise SandboxError("hypervisor names repeat: %s" % self.hypervisors)
        names = [self.system_ids.get(hv, hv) for hv in self.hypervisors]
        if len(set(names)) != len(names):
            raise SandboxError("two hypervisors would have the same chassis name: %s" % names)
        self.nb_unix = "unix:%s" % (self.workdir / "ovn-nb" / "ovn-nb.sock")
        self.sb_unix = "unix:%s" % (self.workdir / "ovn-sb" / "ovn-sb.sock")
        self.nb_remote = None
        self.sb_remote = None
        self.pids = {}          # "<dir>/<daemon>" -> pid, in start order
        self.started = False
        self._marks = {}        # (hv, ifname) -> frames already seen, for clear_received()
        self._atexit = None

    # ---- life cycle -------------------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self, stop_at_exit=True):
        """Start every daemon and wait until all chassis are up; on any failure stop what started.

        With stop_at_exit (the default) an atexit hook stops the daemons if the caller never
        does; the CLI passes False so that they outlive it.
        """
        if self.started:
            raise SandboxError("sandbox in %s is already started" % self.workdir)
        self._preflight()
        try:
            self._start_central()
            self._sim_add("main")
            self.vsctl_sim("main", "add-br", UNDERLAY)
            for hv in self.hypervisors:
                self._add_hypervisor(hv)
            self._populate_tunnel_neighbours()
            self.wait_for(self._all_chassis_up, timeout=20, what="every chassis and its encap in SB")
            self.wait_hv_sync(timeout=20)
        except BaseException:
            self.stop()
            raise
        self.started = True
        self._write_state()
        if stop_at_exit:
            self._atexit = self.stop
            atexit.register(self._atexit)
        return self

    def stop(self):
        """Stop every daemon of this sandbox by pid (newest first). Safe to call twice."""
        pids = self._known_pids()
        survivors = stop_pids(list(reversed(pids)), marker=str(self.workdir))
        self.started = False
        if self._atexit is not None:
            atexit.unregister(self._atexit)
            self._atexit = None
        state = self.workdir / STATE_FILE
        if state.exists():
            data = json.loads(state.read_text())
            data["running"] = False
            state.write_text(json.dumps(data, indent=2) + "\n")
        if survivors:
            raise SandboxError("daemons did not stop: %s" % survivors)

    def running_pids(self):
        """Pids of this sandbox's daemons that are still alive (zombies do not count)."""
        return [p for p in self._known_pids() if is_alive(p, marker=str(self.workdir))]

    @classmethod
    def attach(cls, workdir):
        """An OvnSandbox for daemons already running in `workdir` (started by the CLI or another process)."""
        state_file = Path(workdir).resolve() / STATE_FILE
        if not state_file.exists():
            raise SandboxError("no sandbox in %s (no %s)" % (workdir, STATE_FILE))
        state = json.loads(state_file.read_text())
        sandbox = cls(state["workdir"], state["hypervisors"], state["system_ids"],
                      tls=state.get("tls", False), clustered=state.get("clustered", False))
        sandbox.nb_remote = state["nb_remote"]
        sandbox.sb_remote = state["sb_remote"]
        sandbox.nb_unix = state.get("nb_unix", sandbox.nb_unix)
        sandbox.sb_unix = state.get("sb_unix", sandbox.sb_unix)
        sandbox.members = state.get("members", {})
        sandbox.pids = dict(state["pids"])
        sandbox.started = bool(state.get("running")) and bool(sandbox.running_pids())
        return sandbox

    def state(self):
        return {
            "workdir": str(self.workdir), "running": self.started,
            "hypervisors": self.hypervisors, "system_ids": self.system_ids,
            "chassis": {hv: self.chassis_name(hv) for hv in self.hypervisors},
            "encap_ips": {hv: self.encap_ip(hv) for hv in self.hypervisors},
            "nb_remote": self.nb_remote, "nb_unix": self.nb_unix,
            "sb_remote": self.sb_remote, "sb_unix": self.sb_unix,
            "pids": self.pids,
            "tls": self.tls, "clustered": self.clustered, "members": self.members,
            "client_tls": self.client_tls,
        }

    @property
    def client_tls(self):
        """private_key/certificate/ovn_ca_cert for the modules (ovn_nb options), or {} without TLS."""
        return self.pki.client_args() if self.tls else {}

    def module_args(self, **extra):
        """The OVN modules' connection options for this sandbox (TLS files included), plus `extra`."""
        args = {"ovn_nb_connection": self.nb_remote, "ovn_sb_connection": self.sb_remote}
        args.update(self.client_tls)
        args.update(extra)
        return args

    # ---- control commands -------------------------------------------------------------------

    def chassis_name(self, hv):
        """The chassis name (OVS external_ids:system-id) of hypervisor `hv`."""
        self._check_hv(hv)
        return self.system_ids.get(hv, hv)

    def encap_ip(self, hv):
        return "127.0.10.%d" % (10 + self.hypervisors.index(hv) + 1)

    def nbctl(self, *args, timeout=30):
        return run(["ovn-nbctl", "--db=" + self.nb_unix] + list(args), env=self._env("northd"), timeout=timeout)

    def sbctl(self, *args, timeout=30):
        return run(["ovn-sbctl", "--db=" + self.sb_unix] + list(args), env=self._env("northd"), timeout=timeout)

    def vsctl(self, hv, *args, timeout=30):
        self._check_hv(hv)
        return self.vsctl_sim(hv, *args, timeout=timeout)

    def vsctl_sim(self, sim, *args, timeout=30):
        db = "--db=unix:%s" % (self.workdir / sim / "db.sock")
        return run(["ovs-vsctl", db, "--timeout=%d" % timeout] + list(args), env=self._env(sim), timeout=timeout + 5)

    def appctl(self, hv, *args, timeout=30):
        """ovs-appctl to the hypervisor's ovs-vswitchd (netdev-dummy/*, ofproto/trace, ...)."""
        self._check_hv(hv)
        return self._appctl(self.workdir / hv / "ovs-vswitchd.ctl", *args, timeout=timeout)

    def controller_appctl(self, hv, *args, timeout=30):
        """ovs-appctl to the hypervisor's ovn-controller (23.03 names its socket after its pid)."""
        self._check_hv(hv)
        pid = self.pids.get("%s/ovn-controller" % hv)
        return self._appctl(self.workdir / hv / ("ovn-controller.%s.ctl" % pid), *args, timeout=timeout)

    def wait_hv_sync(self, timeout=10):
        """Block until every ovn-controller has caught up with the NB as it is now."""
        self.nbctl("--wait=hv", "--timeout=%d" % timeout, "sync", timeout=timeout + 5)

    def wait_for(self, predicate, timeout=10, what="condition"):
        """Poll `predicate` until it returns something truthy and return that; raise on timeout."""
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError("timed out after %ss waiting for %s" % (timeout, what))
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def log(self, name, lines=30):
        """The tail of one daemon's log, e.g. log("hv2/ovn-controller"); for failure messages."""
        return log_tail(self.workdir / (name + ".log"), lines)

    # ---- start-up steps (sim_add, net_add, ovn_attach) ---------------------------------------

    def _preflight(self):
        missing = [b for b in BINARIES if shutil.which(b) is None]
        missing += [s for s in (NB_SCHEMA, SB_SCHEMA, VSWITCH_SCHEMA) if not os.path.exists(s)]
        if missing:
            raise SandboxError("OVN/OVS not installed (missing %s): run scripts/bootstrap" % ", ".join(missing))
        if self.workdir.exists():
            if (self.workdir / STATE_FILE).exists() and OvnSandbox.attach(self.workdir).running_pids():
                raise SandboxError("a sandbox is already running in %s" % self.workdir)
            for name in ["ovn-nb", "ovn-sb", "northd", "main"] + self.hypervisors:
                shutil.rmtree(self.workdir / name, ignore_errors=True)
        self.workdir.mkdir(parents=True, exist_ok=True)

    def _start_central(self):
        if self.tls:
            self.pki.init()
        for db, schema in (("ovn-nb", NB_SCHEMA), ("ovn-sb", SB_SCHEMA)):
            self._create_db(db, schema)
        self.nbctl("init")
        self.sbctl("init")
        self._mkdir("northd")
        self.start_northd()

    def start_northd(self):
        """Start ovn-northd (again): over ssl: with TLS, else over the unix sockets."""
        if self.tls:
            args = ["--ovnnb-db=" + self.nb_remote, "--ovnsb-db=" + self.sb_remote] + self.pki.daemon_args("northd")
        else:
            args = ["--ovnnb-db=" + self.nb_unix, "--ovnsb-db=" + self.sb_unix]
        return self._daemon("northd", "ovn-northd", args)

    def start_controller(self, hv):
        """Start the hypervisor's ovn-controller (again); it reads ovn-remote from its Open_vSwitch."""
        args = ["unix:%s" % (self.workdir / hv / "db.sock")]
        if self.tls:
            args += self.pki.daemon_args(hv)
        return self._daemon(hv, "ovn-controller", args, unixctl=False)

    def stop_controller(self, hv):
        """A NotReady node: the hypervisor's ovn-controller dies (SIGKILL, as a node that loses power or
        its agent). Its chassis stays in the SB, its ports stay bound to it, and its
        Chassis_Private.nb_cfg stops following NB_Global.nb_cfg (which holds hv_cfg back). Its
        ovs-vswitchd keeps the flows it had. start_controller(hv) brings the node back."""
        self._check_hv(hv)
        pid = self.kill_daemon("%s/ovn-controller" % hv)
        self._write_state()
        return pid

    def restart_controller(self, hv):
        """Start a stopped hypervisor's ovn-controller again (the node is Ready again)."""
        pid = self.start_controller(hv)
        self._write_state()
        return pid

    def kill_daemon(self, key, sig=signal.SIGKILL):
        """Signal one daemon by its key ("northd/ovn-northd", "hv2/ovn-controller", ...), wait until it is gone."""
        pid = self.pids.get(key)
        if not is_alive(pid, marker=str(self.workdir)):
            raise SandboxError("%s is not running" % key)
        os.kill(pid, sig)
        self.wait_for(lambda: not is_alive(pid, marker=str(self.workdir)), timeout=10, what="%s to exit" % key)
        return pid

    def _sim_add(self, sim):
        """An Open_vSwitch of its own: ovsdb-server and ovs-vswitchd with dummy netdevs."""
        d = self._mkdir(sim)
        run(["ovsdb-tool", "create", d / "conf.db", VSWITCH_SCHEMA])
        self._daemon(sim, "ovsdb-server", ["--remote=punix:%s" % (d / "db.sock"), d / "conf.db"])
        self.vsctl_sim(sim, "--no-wait", "init")
        # =system: "system" ports become dummies but geneve stays a real tunnel vport (=override
        # would make it a dummy too and drop tunnelled packets); no host routes are read.
        self._daemon(sim, "ovs-vswitchd", ["--enable-dummy=system", "--disable-system-route",
                                           "unix:%s" % (d / "db.sock")])

    def _add_hypervisor(self, hv):
        self._sim_add(hv)
        d = self.workdir / hv
        main = self.workdir / "main"
        link = "%s_br-phys" % hv
        # net_attach: br-phys reaches the underlay bridge through a unix-stream dummy link.
        self.vsctl_sim("main", "add-port", UNDERLAY, link, "--", "set", "Interface", link,
                       "options:pstream=punix:%s" % (main / (link + ".sock")))
        self.vsctl(hv, "add-br", "br-phys", "--",
                   "add-port", "br-phys", "br-phys_" + UNDERLAY, "--",
                   "set", "Interface", "br-phys_" + UNDERLAY, "options:stream=unix:%s" % (main / (link + ".sock")))
        ip = self.encap_ip(hv)
        self.appctl(hv, "netdev-dummy/ip4addr", "br-phys", ip + "/24")
        self.appctl(hv, "ovs/route/add", ip + "/24", "br-phys")
        self.vsctl(hv, "--", "set", "Open_vSwitch", ".",
                   "external_ids:system-id=%s" % quote(self.chassis_name(hv)),
                   "external_ids:hostname=%s" % quote(hv),
                   "external_ids:ovn-remote=%s" % quote(self.sb_remote if self.tls else self.sb_unix),
                   "external_ids:ovn-encap-type=geneve",
                   "external_ids:ovn-encap-ip=%s" % ip,
                   "--", "--may-exist", "add-br", "br-int",
                   "--", "set", "Bridge", "br-int", "fail-mode=secure", "other-config:disable-in-band=true")
        self.start_controller(hv)

    def _populate_tunnel_neighbours(self):
        """Static ARP entries for every other encap IP, so no tunnelled packet waits on ARP."""
        macs = {hv: self.vsctl(hv, "get", "Interface", "br-phys", "mac_in_use").strip().strip('"')
                for hv in self.hypervisors}
        for hv in self.hypervisors:
            for other in self.hypervisors:
                if other != hv:
                    self.appctl(hv, "tnl/neigh/set", "br-phys", self.encap_ip(other), macs[other])

    def _all_chassis_up(self):
        chassis = {r["name"]: r for r in rows(self.sbctl("--format=json", "--columns=name,encaps", "list", "Chassis"))}
        return all(chassis.get(self.chassis_name(hv), {}).get("encaps") for hv in self.hypervisors)

    # ---- helpers ------------------------------------------------------------------------------

    def _daemon(self, sim, binary, args, unixctl=True):
        pid = start_daemon(binary, args, self.workdir / sim, env=self._env(sim), unixctl=unixctl)
        self.pids["%s/%s" % (sim, binary)] = pid
        return pid

    def _known_pids(self):
        pids = dict(self.pids)
        # A daemon whose start was cut short may have written its pidfile only.
        pidfiles = list(self.workdir.glob("*/*.pid")) + list(self.workdir.glob("*/*/*.pid")) if self.workdir.exists() else []
        for pidfile in pidfiles:
            key = "%s/%s" % (pidfile.parent.relative_to(self.workdir), pidfile.stem)
            pids.setdefault(key, read_pid(pidfile))
        return [p for p in pids.values() if p]

    def _appctl(self, target, *args, timeout=30):
        return run(["ovs-appctl", "-t", target, "--timeout=%d" % timeout] + list(args), timeout=timeout + 5)

    def _env(self, sim):
        """Each sim has its own run/db/log/conf directories, as ovs_setenv does: ovs-vswitchd
        creates br-int.mgmt in OVS_RUNDIR and ovn-controller looks for it there."""
        env = {k: v for k, v in os.environ.items() if k not in ("OVN_NB_DB", "OVN_SB_DB", "OVS_DB")}
        d = str(self.workdir / sim)
        for var in ("OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR", "OVS_SYSCONFDIR",
                    "OVN_RUNDIR", "OVN_LOGDIR", "OVN_DBDIR", "OVN_SYSCONFDIR"):
            env[var] = d
        return env

    def _mkdir(self, sim):
        d = self.workdir / sim
        d.mkdir(parents=True, exist_ok=True)
        return d

    def _check_hv(self, hv):
        if hv not in self.hypervisors:
            raise SandboxError("unknown hypervisor %r (have %s)" % (hv, self.hypervisors))

    def _write_state(self):
        (self.workdir / STATE_FILE).write_text(json.dumps(self.state(), indent=2) + "\n")
        env = {"OVN_NB_DB": self.nb_remote, "OVN_SB_DB": self.sb_remote, "OVN_SANDBOX_DIR": str(self.workdir)}
        for hv in self.hypervisors:
            env["OVS_DB_" + hv.upper().replace("-", "_")] = "unix:%s" % (self.workdir / hv / "db.sock")
        lines = ["# Source me: remotes of the OVN sandbox in this directory."]
        lines += ["export %s=%s" % (k, shlex.quote(v)) for k, v in env.items()]
        (self.workdir / "env.sh").write_text("\n".join(lines) + "\n")
