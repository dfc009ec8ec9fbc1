"""No secret in any output: every module that takes the Kubernetes auth options runs with a
recognisable secret in each secret-bearing option (api_key, password, a kubeconfig dict's token,
the password of a proxy URL, both proxy_headers credentials), at -vvvv, with the tree (JSON
results per host) and junit (task results) callbacks on, succeeding and failing (401, bad input); the whole output, the
callbacks' files and the registered results never hold a secret or a value derived from one
(Bearer header, basic-auth base64). The event source's logs and events likewise."""
import base64
import json
import logging

from ansible_run import assert_clean_failure, assert_ok, run_tasks
from k8s_emulator import K8sEmulator
from eda.objects import in_flight
from eda.source_run import SourceRun

MARK = "Zq7SECRETx9"
API_KEY, KC_TOKEN, PASSWORD = "api-" + MARK, "kc-" + MARK, "pw-" + MARK
PROXY_PASSWORD, PROXY_AUTH, BASIC_AUTH = "px-" + MARK, "bob:ph-" + MARK, "carol:bh-" + MARK
NS = "vms"


def b64(text):
    return base64.b64encode(text.encode()).decode()


# The raw secrets carry MARK; the derived values (base64 of user:password pairs) do not.
DERIVED = [b64("alice:" + PASSWORD), b64(PROXY_AUTH), b64(BASIC_AUTH)]


def kubeconfig(emu, token):
    return {"apiVersion": "v1", "kind": "Config", "current-context": "emu",
            "clusters": [{"name": "emu", "cluster": {"server": emu.url}}],
            "users": [{"name": "emu", "user": {"token": token}}],
            "contexts": [{"name": "emu", "context": {"cluster": "emu", "user": "emu"}}]}


def every_secret(emu):
    """Every auth option that can hold a secret, at once; the proxy is bypassed for the emulator."""
    return {"host": emu.url, "api_key": API_KEY, "username": "alice", "password": PASSWORD,
            "kubeconfig": kubeconfig(emu, KC_TOKEN), "proxy": "http://bob:%s@127.0.0.1:9" % PROXY_PASSWORD,
            "no_proxy": "127.0.0.1,localhost",
            "proxy_headers": {"proxy_basic_auth": PROXY_AUTH, "basic_auth": BASIC_AUTH, "user_agent": "klm-test"}}


def assert_no_secret(text, where):
    for secret in [MARK] + DERIVED:
        assert secret not in text, "%s holds %s" % (where, secret)


def test_no_module_output_holds_a_secret(tmp_path):
    emu = K8sEmulator(token=API_KEY, tokens={KC_TOKEN: "kubeconfig-user"}).start()
    try:
        in_flight(emu, NS, "db-0", "db-0-m1")
        emu.create({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                    "metadata": {"namespace": NS, "name": "db-1"}, "spec": {},
                    "status": {"phase": "Running", "nodeName": "hv1"}})
        auth = every_secret(emu)
        kc_only = {"kubeconfig": kubeconfig(emu, KC_TOKEN)}
        wrong = {"host": emu.url, "api_key": "wrong-" + MARK}
        event = {"namespace": NS, "vmi": "db-0", "reason": "NetworkPrepared", "note": "n",
                 "migration": "db-0-m1", "migration_uid": "uid-1"}
        ok_tasks = [
            ("vmim_info", dict(auth, namespace=NS, vmi="db-0", plan=True)),
            ("vmim_info", dict(kc_only, namespace=NS)),
            ("vmim", dict(auth, namespace=NS, vmi="db-1", name="db-1-m1"), {"diff": True}),
            ("vmim", dict(auth, namespace=NS, name="db-1-m1", state="absent"), {"check_mode": True, "diff": True}),
            ("vmi_event", dict(auth, **event), {"diff": True}),
            ("vmi_event_info", dict(auth, namespace=NS, vmi="db-0")),
        ]
        failing_tasks = [
            ("vmim_info", dict(wrong, namespace=NS)),                           # 401
            ("vmim_info", dict(auth, namespace=NS, wait_for=["Nope"])),         # bad input, caught by the argspec
            ("vmim", dict(auth, vmi="db-1")),                                   # a required option missing
            ("vmi_event", dict(kc_only, context="absent", fail_on_error=True, **event)),  # a context the dict lacks
        ]
        tree, junit = tmp_path / "tree", tmp_path / "junit"
        results = run_tasks(ok_tasks + failing_tasks, verbosity=4, env={
            "ANSIBLE_CALLBACKS_ENABLED": "ansible.builtin.tree,ansible.builtin.junit",
            "ANSIBLE_CALLBACK_TREE_DIR": str(tree), "JUNIT_OUTPUT_DIR": str(junit),
            # junit names a test case after the task's literal arguments unless told not to: an
            # Ansible-wide trait for any secret written into a task (docs/rbac.md), not the modules'.
            "JUNIT_HIDE_TASK_ARGUMENTS": "true",
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"})
    finally:
        emu.stop()
    for result in results[:len(ok_tasks)]:
        assert_ok(result)
    for result in results[len(ok_tasks):]:
        assert result.get("failed"), result
    assert_clean_failure(results[len(ok_tasks)], "401")
    output = results[0]["_output"]
    assert "invocation" in output and "module_args" in output    # -vvvv shows what the modules were given
    assert_no_secret(output, "the -vvvv output")
    assert_no_secret(json.dumps([{k: v for k, v in r.items() if k != "_output"} for r in results]), "the results")
    callback_files = list(tree.rglob("*")) + list(junit.rglob("*"))
    assert [p for p in callback_files if p.is_file()], "the callbacks wrote nothing"
    for path in callback_files:
        if path.is_file():
            assert_no_secret(path.read_text(errors="replace"), str(path))


def test_the_event_source_logs_no_secret(caplog):
    emu = K8sEmulator(token=API_KEY).start()
    caplog.set_level(logging.DEBUG)
    try:
        in_flight(emu, NS, "db-0", "db-0-m1")
        good = SourceRun(dict(every_secret(emu), namespaces=[NS])).start()
        try:
            event = good.next_event(30, where=lambda e: e.get("vmim") == "db-0-m1")
        finally:
            good.stop()
        # Refused credentials: the source logs the 401 while it retries.
        bad = SourceRun({"host": emu.url, "api_key": "wrong-" + MARK, "password": PASSWORD, "username": "alice",
                         "retry_max_delay": 0.2, "namespaces": [NS]}).start()
        try:
            bad.events_for(3)
        except AssertionError:
            pass
        finally:
            bad.stop()
    finally:
        emu.stop()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "401" in logged or "Unauthorized" in logged or "authentication" in logged
    assert_no_secret(logged, "the source's log")
    assert_no_secret(json.dumps(event, default=str), "the source's event")
