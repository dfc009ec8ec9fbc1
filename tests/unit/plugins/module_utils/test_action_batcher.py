"""The event source's adaptive batching without I/O (module_utils/k8s/action_batcher.py): one ActionBatcher
gathers prepares and cutovers the same way, apart from each other, and keeps one VMI's actions in the
order of its events. The clock is a parameter; drive() polls due() every millisecond as the source does."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / ".venv" / "collections"))

from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.action_batcher import (  # noqa: E402
    BATCH_FIELDS, ActionBatcher, PrepareBatcher,
)
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s import migration_view  # noqa: E402

SETTLE = ActionBatcher.SETTLE


def event(n, action="prepare", vmi_name=None, target="B", kind="migration"):
    """A migration event of VMI vm<n> (or `vmi_name`) whose planned action is `action`."""
    return {"type": kind, "action": action, "vmim": "m%d" % n, "vmim_uid": "u%d" % n,
            "vmi": vmi_name or "vm%d" % n, "namespace": "vms", "source_node": "A", "target_node": target,
            "network_opt": "", "target_scheduled_at": None, "phase": "Succeeded" if action == "cutover" else "Scheduled"}


def drive(batcher, arrivals, until, start=0.0):
    sent, tick = [], start
    arrivals = list(arrivals)
    while tick <= until:
        while arrivals and arrivals[0][0] <= tick:
            sent += [(tick, e) for e in batcher.offer(arrivals.pop(0)[1], tick)]
        batch = batcher.due(tick)
        while batch is not None:
            sent.append((tick, batch))
            batch = batcher.due(tick)
        tick = round(tick + 0.001, 6)
    return sent


def acting(sent, action):
    """(time, VMI or [VMIs]) of what a rule fires on for `action`: unbatched events and batches."""
    return [(t, e["vmi"] if e["type"] == "migration" else [m["vmi"] for m in e["migrations"]])
            for t, e in sent if e["action"] == action and not e.get("batched")]


def test_one_implementation_serves_the_source_and_the_former_name():
    assert migration_view.PrepareBatcher is PrepareBatcher
    assert issubclass(PrepareBatcher, ActionBatcher)
    assert [g.action for g in ActionBatcher(2.0).gatherings] == ["pin", "prepare", "cutover"]
    assert [g.action for g in PrepareBatcher(2.0).gatherings] == ["prepare"]


@pytest.mark.parametrize("action", ["pin", "prepare", "cutover"])
def test_a_burst_gives_the_first_at_once_and_the_rest_in_one_batch(action):
    batcher = ActionBatcher(2.0)
    burst = [(i * 0.0005, event(i, action)) for i in range(100)]     # 100 within 50 ms
    sent = drive(batcher, burst, until=3.0)
    acts = acting(sent, action)
    assert acts[0] == (0.0, "vm0")
    assert len(acts) == 2, acts
    when, vmis = acts[1]
    assert vmis == sorted("vm%d" % i for i in range(1, 100))
    assert 0.05 <= when <= 0.05 + 2 * SETTLE
    [batch] = [e for _unused, e in sent if e["type"] != "migration"]
    assert (batch["type"], batch["action"], batch["count"]) == ("%s_batch" % action, action, 99)
    assert set(batch["migrations"][0]) == set(BATCH_FIELDS)
    assert sum(1 for _unused, e in sent if e.get("batched")) == 99


@pytest.mark.parametrize("action", ["prepare", "cutover"])
def test_a_lone_event_is_sent_at_once(action):
    batcher = ActionBatcher(2.0)
    sent = drive(batcher, [(0.0, event(1, action)), (5.0, event(2, action)), (5.5, event(3, action))], until=6.0)
    assert acting(sent, action) == [(0.0, "vm1"), (5.0, "vm2"), (5.5, "vm3")]
    assert not any(e.get("batched") for _unused, e in sent)
    assert batcher.next_due() is None


def test_prepares_and_cutovers_are_gathered_apart():
    # A drain: 50 targets scheduled at once, and while their prepares are presumed running the 50
    # migrations of an earlier drain succeed at once. Each action: its first alone, the rest in one batch.
    batcher = ActionBatcher(2.0)
    prepares = [(i * 0.0005, event(i, "prepare")) for i in range(50)]
    cutovers = [(0.1 + i * 0.0005, event(100 + i, "cutover")) for i in range(50)]
    sent = drive(batcher, prepares + cutovers, until=3.0)
    assert [(len(v) if isinstance(v, list) else v) for _unused, v in acting(sent, "prepare")] == ["vm0", 49]
    assert [(len(v) if isinstance(v, list) else v) for _unused, v in acting(sent, "cutover")] == ["vm100", 49]
    assert [e["type"] for _unused, e in sent if e["type"] != "migration"] == ["prepare_batch", "cutover_batch"]


def test_the_window_bounds_a_cutover_hold():
    # Cutovers keep coming every 5 ms while two are presumed running: the batch goes `window` after its first.
    batcher = ActionBatcher(0.5)
    batcher.offer(event(900, "cutover"), 0.0)
    batcher.offer(event(901, "cutover"), 0.0)
    assert batcher.due(0.06)["type"] == "cutover_batch"       # two presumed running now
    sent = drive(batcher, [(0.1 + i * 0.005, event(i, "cutover")) for i in range(200)], until=0.7, start=0.061)
    batches = [(t, e) for t, e in sent if e["type"] == "cutover_batch"]
    assert batches and abs(batches[0][0] - 0.6) < 0.0015, batches[0][0]
    assert batches[0][1]["migrations"][0]["vmi"] == "vm0"


def test_a_vmi_whose_cutover_is_held_gets_its_batch_sent_before_its_next_action():
    batcher = ActionBatcher(2.0)
    assert batcher.offer(event(1, "cutover"), 0.0) == [event(1, "cutover")]
    held = batcher.offer(event(2, "cutover"), 0.001)
    assert held == [dict(event(2, "cutover"), batched=True)]
    batcher.offer(event(3, "cutover", vmi_name="vm2", target="C"), 0.002)     # held again: its latest fields
    none = dict(event(2, "cutover"), action="none")
    assert batcher.offer(none, 0.003) == [none]                 # no action: the batch stays held
    # vm2 migrates again (A->B->A): its prepare comes after the cutover batch.
    back = event(4, "prepare", vmi_name="vm2")
    out = batcher.offer(back, 0.004)
    assert [e["type"] for e in out] == ["cutover_batch", "migration"]
    assert [(m["vmi"], m["vmim"], m["target_node"]) for m in out[0]["migrations"]] == [("vm2", "m3", "C")]
    assert out[1] is back                                       # no prepare presumed running: at once
    assert batcher.due(10.0) is None


@pytest.mark.parametrize("kind", ["migration", "timeout"])
def test_a_rollback_of_a_held_vmi_sends_the_batch_first(kind):
    batcher = ActionBatcher(2.0)
    batcher.offer(event(1, "cutover"), 0.0)
    batcher.offer(event(2, "cutover"), 0.001)
    rollback = event(2, "rollback", kind=kind)
    out = batcher.offer(rollback, 0.002)
    assert [e["type"] for e in out] == ["cutover_batch", kind]
    assert out[1] is rollback
    other = event(5, "rollback")
    assert batcher.offer(other, 0.003) == [other]               # a VMI not held: nothing to send first


def test_a_cutover_held_while_its_prepare_is_held_follows_the_prepare_batch():
    batcher = ActionBatcher(2.0)
    batcher.offer(event(1, "prepare"), 0.0)
    batcher.offer(event(2, "prepare"), 0.001)                   # held
    out = batcher.offer(event(2, "cutover"), 0.002)
    assert [(e["type"], e["action"]) for e in out][0] == ("prepare_batch", "prepare")
    assert out[-1]["action"] == "cutover"


def test_a_cutover_soon_after_its_vmis_own_prepare_run_goes_alone():
    # vm1's prepare went alone (its rule holds vm1's lock); its migration succeeds within the window, in a
    # burst of cutovers: vm1's cutover goes alone too, so that the lock runs it after the prepare.
    batcher = ActionBatcher(2.0)
    assert batcher.offer(event(1, "prepare"), 0.0) == [event(1, "prepare")]
    batcher.offer(event(7, "cutover"), 1.0)                     # a burst of cutovers starts
    batcher.offer(event(8, "cutover"), 1.0001)
    assert batcher.offer(event(1, "cutover"), 1.0002) == [event(1, "cutover")]
    # Once the window has passed, vm1's cutover is gathered like any other's.
    batcher = ActionBatcher(2.0)
    batcher.offer(event(1, "prepare"), 0.0)
    batcher.offer(event(7, "cutover"), 2.5)
    batcher.offer(event(8, "cutover"), 2.5001)
    assert batcher.offer(event(1, "cutover"), 2.5002)[0]["batched"]


def test_pins_and_rollbacks_do_not_stop_a_drain_from_being_gathered():
    # KubeVirt creates the VMIMs (pin) milliseconds before the targets are scheduled (prepare).
    batcher = ActionBatcher(2.0)
    pins = [(i * 0.0005, event(i, "pin", target=None)) for i in range(20)]
    prepares = [(0.2 + i * 0.0005, event(i, "prepare")) for i in range(20)]
    sent = drive(batcher, pins + prepares, until=2.0)
    assert [(len(v) if isinstance(v, list) else v) for _unused, v in acting(sent, "prepare")] == ["vm0", 19]
    # A drain's pins: the first at once, the rest in one pin_batch, sent before any prepare of theirs.
    pinned = acting(sent, "pin")
    assert [(len(v) if isinstance(v, list) else v) for _unused, v in pinned] == ["vm0", 19]
    first_prepare = min(t for t, e in sent if e["action"] == "prepare")
    assert pinned[-1][0] <= first_prepare
    [batch] = [e for _unused, e in sent if e["type"] == "pin_batch"]
    assert batch["migrations"][0]["source_node"] == "A" and batch["count"] == 19


def test_window_zero_sends_everything_as_it_comes():
    batcher = ActionBatcher(0)
    events = [event(i, action) for i in range(3) for action in ("prepare", "cutover")]
    assert [e for each in events for e in batcher.offer(each, 1.0)] == events
    assert batcher.next_due() is None and batcher.due(5.0) is None
