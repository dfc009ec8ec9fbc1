"""The modules over ssl: against a sandbox whose NB, SB, northd and ovn-controllers all speak TLS
with ovs-pki certificates; every broken piece of key material fails with a msg naming the file or
the check, writes nothing, and no key material ever reaches the output or a copy on disk."""
import os
from pathlib import Path

import pytest

from ansible_run import clean_failure_problem
from fault_helpers import expected_options, make_vm, nb_snapshot, owned_options, run_tasks
from ovn_sandbox.daemons import run, start_daemon, stop_pids
from ovn_sandbox.sandbox import NB_SCHEMA
from ovn_sandbox.tls import Pki, pem_bodies


@pytest.fixture(scope="module")
def sandbox(ovn_tls_sandbox):
    return ovn_tls_sandbox


def conn(sandbox, **tls):
    return sandbox.module_args(**tls)


def test_modules_work_over_ssl_end_to_end(sandbox):
    assert sandbox.nb_remote.startswith("ssl:") and sandbox.sb_remote.startswith("ssl:")
    vm = make_vm(sandbox)
    select = {"vmi": vm["vm"], "namespace": vm["namespace"]}
    results = run_tasks([
        ("ovn_lsp", dict(conn(sandbox), state="prepared", source_chassis="hv1", target_chassis="hv2", wait="hv", **select)),
        ("ovn_lsp_info", dict(conn(sandbox), **select)),
    ])[0]
    assert not results[0]["failed"], results[0]
    assert results[0]["changed"] and len(results[0]["ports"]) == 2
    # northd (over ssl) copied it to SB and the hypervisors (over ssl) applied it: wait=hv returned.
    for port in vm["ports"]:
        binding = sandbox.port_binding(port)
        assert binding["requested_chassis"] == "hv1" and binding["requested_additional_chassis"] == ["hv2"]
    info = results[1]
    assert not info["failed"], info
    assert [p["binding"]["requested_additional_chassis"] for p in info["ports"]] == [["hv2"], ["hv2"]]
    assert set(owned_options(sandbox, vm["ports"]).values()) == {expected_options("prepared")}


@pytest.fixture(scope="module")
def bad_material(sandbox, tmp_path_factory):
    """Key material that must be refused: a foreign CA, an expired client certificate, a key that
    does not match its certificate, a key file that is not there."""
    foreign = Pki(tmp_path_factory.mktemp("foreign-pki")).init()
    expired_key, expired_cert = sandbox.pki.issue_expired("expired-client")
    good = sandbox.client_tls
    other_key = sandbox.pki.issue("other-client")[0]
    return {
        "foreign CA": (dict(good, ovn_ca_cert=str(foreign.ca_cert)), ["not signed by ovn_ca_cert", str(foreign.ca_cert)]),
        "expired client certificate": (dict(good, private_key=str(expired_key), certificate=str(expired_cert)),
                                       ["refused certificate", str(expired_cert)]),
        "key of another certificate": (dict(good, private_key=str(other_key)),
                                       ["not a matching PEM certificate and key", good["certificate"], str(other_key)]),
        "missing key file": (dict(good, private_key=str(Path(good["private_key"]).with_name("gone-privkey.pem"))),
                             ["Cannot read private_key", "gone-privkey.pem"]),
        "missing CA file": (dict(good, ovn_ca_cert="/nonexistent/cacert.pem"), ["Cannot read ovn_ca_cert /nonexistent/cacert.pem"]),
        "CA file that is a key": (dict(good, ovn_ca_cert=good["private_key"]), ["ovn_ca_cert", "is not a PEM CA certificate"]),
    }


def test_bad_key_material_fails_clearly_writes_nothing_and_never_leaks(sandbox, bad_material, tmp_path):
    vm = make_vm(sandbox, providers=())
    before = nb_snapshot(sandbox)
    names = sorted(bad_material)
    tasks = [("ovn_lsp", dict(conn(sandbox, **bad_material[n][0]), ports=vm["ports"], state="prepared",
                              source_chassis="hv1", target_chassis="hv2", connect_timeout=5)) for n in names]
    # ovn_lsp_info shares the connection code: two cases are enough to show it reports the same way.
    info_names = ["foreign CA", "missing key file"]
    tasks += [("ovn_lsp_info", dict(conn(sandbox, **bad_material[n][0]), ports=vm["ports"], connect_timeout=5))
              for n in info_names]
    # Leftover module files stay in these directories, so a copy of a key file would be found below.
    kept = {"ANSIBLE_KEEP_REMOTE_FILES": "1", "ANSIBLE_REMOTE_TMP": str(tmp_path / "remote"),
            "ANSIBLE_LOCAL_TEMP": str(tmp_path / "local")}
    results, output = run_tasks(tasks, env=kept, verbosity=3)
    problems = {}
    for index, result in enumerate(results):
        name = (names + info_names)[index]
        problem = clean_failure_problem(result, bad_material[name][1])
        if problem:
            problems["%s %s" % (tasks[index][0], name)] = problem
    assert not problems, problems
    assert nb_snapshot(sandbox) == before
    # No key's body in the -vvv output, nor in any file outside the PKI directory.
    keys = list(sandbox.pki.dir.glob("*-privkey.pem"))
    bodies = [line for key in keys for line in pem_bodies(key)]
    assert bodies and not [b for b in bodies if b in output]
    copies = files_containing(tmp_path, bodies) + files_containing(Path("/tmp"), bodies, skip=sandbox.workdir)
    assert not copies, copies


def test_successful_run_shows_no_key_material_at_vvv(sandbox, tmp_path):
    vm = make_vm(sandbox, providers=())
    kept = {"ANSIBLE_KEEP_REMOTE_FILES": "1", "ANSIBLE_REMOTE_TMP": str(tmp_path / "remote")}
    results, output = run_tasks([("ovn_lsp", dict(conn(sandbox), ports=vm["ports"], state="prepared",
                                                  source_chassis="hv1", target_chassis="hv3"))], env=kept, verbosity=3)
    assert not results[0]["failed"] and results[0]["changed"], results[0]
    assert sandbox.client_tls["private_key"] in output      # the path is shown (it is not a secret)...
    bodies = pem_bodies(sandbox.client_tls["private_key"])
    assert not [b for b in bodies if b in output]            # ...the key never is
    assert not files_containing(tmp_path, bodies)
    assert oct(os.stat(sandbox.client_tls["private_key"]).st_mode & 0o777) == "0o600"


def files_containing(root, needles, skip=None, max_size=4 << 20):
    found = []
    for dirpath, _dirs, files in os.walk(root):
        if skip and str(dirpath).startswith(str(skip)):
            continue
        for name in files:
            path = Path(dirpath) / name
            try:
                if path.is_symlink() or path.stat().st_size > max_size:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            if any(n.encode() in data for n in needles):
                found.append(str(path))
    return found


@pytest.fixture(scope="module")
def expired_server_result(sandbox, tmp_path_factory):
    """A bare NB ovsdb-server whose own certificate expired in 2020 (same CA as the sandbox)."""
    d = tmp_path_factory.mktemp("expired-server")
    run(["ovsdb-tool", "create", d / "nb.db", NB_SCHEMA])
    key, cert = sandbox.pki.issue_expired("expired-server")
    pid = start_daemon("ovsdb-server", ["--remote=pssl:0:127.0.0.1", "--private-key=%s" % key,
                                        "--certificate=%s" % cert, "--ca-cert=%s" % sandbox.pki.ca_cert,
                                        d / "nb.db"], d)
    try:
        remote = "ssl:127.0.0.1:%d" % sandbox._new_listening_port(d / "ovsdb-server.log", 0)
        results = run_tasks([("ovn_lsp_info", dict(sandbox.client_tls, ovn_nb_connection=remote, ports=["x"],
                                                   connect_timeout=5))])[0]
        return remote, results[0]
    finally:
        stop_pids([pid])


def test_expired_server_certificate_names_the_expiry(expired_server_result):
    remote, result = expired_server_result
    assert clean_failure_problem(result, [remote, "certificate has expired"]) is None, result


def test_expired_server_certificate_is_not_called_unsigned(expired_server_result):
    result = expired_server_result[1]
    assert "not signed by" not in result["msg"]
