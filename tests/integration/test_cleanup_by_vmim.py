"""The cleanup playbook given only the VMIM (no VMI): the role has read no ports, so converge must
get a real null and read them itself. scripts/test also runs this file on the oldest ansible-core
(before 2.19 a filtered template that yields null is the string "None", which converge's argument
spec rejected)."""
from ansible_run import run_playbook
from integration.test_observability import lab, make_vm, owned, variables  # noqa: F401 (lab: fixture)


def test_cleanup_by_vmim_alone_rolls_a_failed_migration_back(lab):  # noqa: F811
    namespace, vm, names = make_vm(lab)
    lab["sim"].configure(namespace, vm, target_node="hv2", hold_at="TargetReady", fail_at="TargetReady")
    lab["sim"].migrate(namespace, vm, name="m1")
    lab["sim"].wait_phase(namespace, "m1", ["TargetReady"])
    prep = run_playbook("kubeovn.live_migration.prepare",
                        extra_vars=variables(lab, vmi=vm, namespace=namespace, vmim="m1"))
    assert prep.rc == 0, prep.output[-3000:]
    assert set(owned(lab["ovn"], names).values()) == {("hv1,hv2", "rarp")}
    lab["sim"].release(namespace, "m1")
    lab["sim"].wait_phase(namespace, "m1", ["Failed"])
    run = run_playbook("kubeovn.live_migration.cleanup", extra_vars=variables(lab, namespace=namespace, vmim="m1"))
    assert run.rc == 0, run.output[-3000:]
    assert set(owned(lab["ovn"], names).values()) == {("hv1", None)}
