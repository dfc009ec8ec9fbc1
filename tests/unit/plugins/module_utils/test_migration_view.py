"""The EDA source's view without I/O: each migration and timeout event carries the planner's action for
its VMI, edge-triggered per VMI (once per needed action; again after a restart), and the batcher
gathers the `prepare` events. Objects are API JSON as the watches deliver them; the clock is fixed."""
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / ".venv" / "collections"))

from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.migration_view import (  # noqa: E402
    PLAN_FIELDS, MigrationView, PrepareBatcher,
)

T0 = datetime(2026, 1, 1, 10, 0, 0, tzinfo=timezone.utc)
LABEL = "kubevirt.io/migrationJobUID"


def at(seconds):
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def vmim(uid, phase=None, name=None, created=0, ended=None, deleting=False, of="vm1"):
    obj = {"metadata": {"namespace": "vms", "name": name or "m-" + uid, "uid": uid, "creationTimestamp": at(created)},
           "spec": {"vmiName": of}, "status": {}}
    if phase:
        obj["status"] = {"phase": phase, "phaseTransitionTimestamps": [
            {"phase": phase, "phaseTransitionTimestamp": at(created if ended is None else ended)}]}
    if deleting:
        obj["metadata"]["deletionTimestamp"] = at(created + 1)
    return obj


def vmi(node="A", state=None, opt=None, name="vm1"):
    obj = {"metadata": {"namespace": "vms", "name": name, "annotations": {}}, "status": {"nodeName": node}}
    if state:
        obj["status"]["migrationState"] = state
    if opt:
        obj["metadata"]["annotations"]["live-migration.kubeovn.io/enabled"] = opt
    return obj


def pod(uid, node):
    return {"metadata": {"namespace": "vms", "name": "target-" + uid, "creationTimestamp": at(0),
                         "labels": {LABEL: uid}}, "spec": {"nodeName": node}}


def state(uid, source="A", target="B", **extra):
    return dict(migrationUid=uid, sourceNode=source, targetNode=target, **extra)


def view(now=5, **kwargs):
    return MigrationView(clock=lambda: T0 + timedelta(seconds=now), **kwargs)


def acts(events):
    """(vmim, action, source chassis, target chassis) of each event."""
    return [(e["vmim"], e["action"], e["source_chassis"], e["target_chassis"]) for e in events]


def test_every_event_carries_the_plan():
    v = view()
    [event] = v.load([vmim("u1", "Running")], [vmi("A", state("u1"))], [pod("u1", "B")])
    assert set(PLAN_FIELDS) <= set(event)
    assert (event["action"], event["source_chassis"], event["target_chassis"], event["cancel"], event["timeout"]) == (
        "prepare", "A", "B", False, None)
    assert event["reason"].startswith("migration m-u1 (Running): bind on A and B")


def test_repeated_phase_changes_emit_each_action_once():
    v = view()
    assert acts(v.load([vmim("u1", "Scheduling")], [vmi("A")], [])) == [("m-u1", "pin", "A", None)]
    assert acts(v.apply("pod", "ADDED", pod("u1", "B"))) == [("m-u1", "prepare", "A", "B")]
    later = []
    for phase in ("Scheduled", "PreparingTarget", "TargetReady", "Running"):
        later += v.apply("vmim", "MODIFIED", vmim("u1", phase))
    later += v.apply("vmi", "MODIFIED", vmi("A", state("u1")))
    assert [e["phase"] for e in later] == ["Scheduled", "PreparingTarget", "TargetReady", "Running", "Running"]
    assert {e["action"] for e in later} == {"none"}
    assert "already emitted" in later[-1]["reason"]
    done = v.apply("vmim", "MODIFIED", vmim("u1", "Succeeded"))
    assert acts(done) == [("m-u1", "cutover", None, "B")]
    # The VMI lands on the target: the migration's fields change, its action does not.
    assert [e["action"] for e in v.apply("vmi", "MODIFIED", vmi("B", state("u1", completed=True)))] in ([], ["none"])


def test_a_restarted_source_acts_again_on_its_first_event():
    objects = ([vmim("u1", "Running")], [vmi("A", state("u1"))], [pod("u1", "B")])
    first = view()
    assert acts(first.load(*objects)) == [("m-u1", "prepare", "A", "B")]
    assert acts(view().load(*objects)) == [("m-u1", "prepare", "A", "B")]      # replay after a restart
    # It ended while no source ran: replayed as a cutover.
    ended = ([vmim("u1", "Succeeded", ended=3)], [vmi("B", state("u1", completed=True))], [pod("u1", "B")])
    assert acts(view().load(*ended)) == [("m-u1", "cutover", None, "B")]
    assert view(replay_ended_within=0).load(*ended) == []


def test_back_and_forth_acts_for_each_migration():
    v = view()
    v.load([], [vmi("A")], [])
    m1 = vmim("u1", "Scheduling", created=1)
    v.apply("vmim", "ADDED", m1)
    v.apply("pod", "ADDED", pod("u1", "B"))
    v.apply("vmi", "MODIFIED", vmi("A", state("u1")))
    v.apply("vmim", "MODIFIED", vmim("u1", "Succeeded", created=1, ended=2))
    v.apply("vmi", "MODIFIED", vmi("B", state("u1", completed=True)))
    # And back: the VMI's migration state still names the first migration until KubeVirt moves on.
    v.apply("vmim", "ADDED", vmim("u2", "Scheduling", created=3))
    v.apply("pod", "ADDED", pod("u2", "A"))
    events = v.apply("vmi", "MODIFIED", vmi("B", state("u2", source="B", target="A")))
    events += v.apply("vmim", "MODIFIED", vmim("u2", "Succeeded", created=3, ended=4))
    events += v.apply("vmi", "MODIFIED", vmi("A", state("u2", source="B", target="A", completed=True)))
    assert [e["action"] for e in events if e["vmim"] == "m-u2"] == ["none", "cutover"]
    # Every action of both migrations, once each, in order.
    v2 = view()
    v2.load([], [vmi("A")], [])
    steps = [("vmim", vmim("u1", "Scheduling", created=1)), ("pod", pod("u1", "B")), ("vmi", vmi("A", state("u1"))),
             ("vmim", vmim("u1", "Succeeded", created=1, ended=2)), ("vmi", vmi("B", state("u1", completed=True))),
             ("vmim", vmim("u2", "Scheduling", created=3)), ("pod", pod("u2", "A")),
             ("vmi", vmi("B", state("u2", source="B", target="A"))), ("vmim", vmim("u2", "Running", created=3)),
             ("vmim", vmim("u2", "Succeeded", created=3, ended=4)),
             ("vmi", vmi("A", state("u2", source="B", target="A", completed=True)))]
    emitted = []
    for resource, obj in steps:
        emitted += [e for e in v2.apply(resource, "MODIFIED", obj) if e["action"] != "none"]
    assert acts(emitted) == [("m-u1", "pin", "A", None), ("m-u1", "prepare", "A", "B"), ("m-u1", "cutover", None, "B"),
                             ("m-u2", "pin", "B", None), ("m-u2", "prepare", "B", "A"), ("m-u2", "cutover", None, "A")]


def test_a_migration_deleted_in_flight_is_rolled_back_once():
    v = view()
    v.load([vmim("u1", "Running")], [vmi("A", state("u1"))], [pod("u1", "B")])
    # An abort: deletionTimestamp set, then KubeVirt ends it Failed and lets it go.
    [deleting] = v.apply("vmim", "MODIFIED", vmim("u1", "Running", deleting=True))
    assert (deleting["deleted"], deleting["action"], deleting["source_chassis"], deleting["cancel"]) == (
        True, "rollback", "A", False)
    assert "was deleted before it ended" in deleting["reason"]
    failed = v.apply("vmim", "MODIFIED", vmim("u1", "Failed", deleting=True))
    assert [e["action"] for e in failed] == ["none"]
    assert v.apply("vmim", "DELETED", vmim("u1", "Failed", deleting=True)) == []


def test_a_migration_gone_in_flight_is_rolled_back():
    v = view()
    v.load([vmim("u1", "Running")], [vmi("A", state("u1"))], [pod("u1", "B")])
    [gone] = v.apply("vmim", "DELETED", vmim("u1", "Running"))
    assert (gone["deleted"], gone["in_flight"], gone["action"], gone["source_chassis"]) == (True, True, "rollback", "A")
    # Gone from a re-list after a 410 too.
    v = view()
    v.load([vmim("u1", "Running")], [vmi("A", state("u1"))], [pod("u1", "B")])
    [gone] = v.resync({"vmim": [], "vmi": [vmi("A", state("u1"))], "pod": [pod("u1", "B")]})
    assert (gone["deleted"], gone["action"]) == (True, "rollback")


def test_a_timeout_rolls_back_and_cancels():
    v = view(migration_timeout=60)
    [first] = v.load([vmim("u1", "Running")], [vmi("A", state("u1"))], [pod("u1", "B")])
    assert first["action"] == "prepare"
    assert v.next_deadline() == T0 + timedelta(seconds=65)      # followed from 5 s after its creation
    assert v.due(now=T0 + timedelta(seconds=64)) == []
    [timeout] = v.due(now=T0 + timedelta(seconds=66))
    assert (timeout["type"], timeout["action"], timeout["cancel"], timeout["source_chassis"], timeout["timeout"]) == (
        "timeout", "rollback", True, "A", 60)
    assert "in flight for more than 60 s" in timeout["reason"]
    assert v.due(now=T0 + timedelta(seconds=600)) == []
    # The cancel ends it Failed: that rollback was emitted already.
    assert [e["action"] for e in v.apply("vmim", "MODIFIED", vmim("u1", "Failed"))] == ["none"]


def test_a_vm_opted_out_mid_flight_is_still_cut_over_once_prepared():
    v = view()
    v.load([vmim("u1", "Running")], [vmi("A", state("u1"))], [pod("u1", "B")])
    assert v.apply("vmi", "MODIFIED", vmi("A", state("u1"), opt="false")) == []
    [done] = v.apply("vmim", "MODIFIED", vmim("u1", "Succeeded"))
    assert (done["network_opt"], done["action"], done["target_chassis"]) == ("out", "cutover", "B")
    assert "out of scope" in done["reason"]


def test_a_vm_opted_out_before_its_prepare_is_left_alone():
    v = view()
    v.load([vmim("u1", "Scheduling")], [vmi("A")], [])            # followed: pinned, not prepared
    v.apply("vmi", "MODIFIED", vmi("A", opt="false"))
    [scheduled] = v.apply("pod", "ADDED", pod("u1", "B"))
    assert scheduled["action"] == "none" and "out of scope" in scheduled["reason"]


def test_a_plan_about_another_migration_is_left_to_that_migrations_event():
    v = view()
    events = v.load([vmim("u1", "Succeeded", created=0, ended=2), vmim("u2", "Running", created=3)],
                    [vmi("B", state("u2", source="B", target="A"))], [pod("u1", "B"), pod("u2", "A")])
    assert acts(events) == [("m-u1", "none", "B", "A"), ("m-u2", "prepare", "B", "A")]
    assert "left to the event of migration m-u2" in events[0]["reason"]


def prepare_event(n, vmi_name=None, target="B"):
    """A migration event whose action is prepare, of VMI vm<n> (or `vmi_name`)."""
    return {"type": "migration", "action": "prepare", "vmim": "m%d" % n, "vmim_uid": "u%d" % n,
            "vmi": vmi_name or "vm%d" % n, "namespace": "vms", "source_node": "A", "target_node": target,
            "network_opt": "", "target_scheduled_at": None, "phase": "Scheduled"}


def drive(batcher, arrivals, until):
    """Offer (time, event) arrivals in order and poll due() every millisecond as the source does;
    returns (time, event) of everything sent."""
    sent, tick = [], 0.0
    arrivals = list(arrivals)
    while tick <= until:
        while arrivals and arrivals[0][0] <= tick:
            sent += [(tick, e) for e in batcher.offer(arrivals.pop(0)[1], tick)]
        batch = batcher.due(tick)
        if batch is not None:
            sent.append((tick, batch))
        tick = round(tick + 0.001, 6)
    return sent


def acting(sent):
    """(time, what acts) of the events a rule fires on: unbatched prepares and batches."""
    return [(t, e["vmi"] if e["type"] == "migration" else [m["vmi"] for m in e["migrations"]])
            for t, e in sent if e["action"] == "prepare" and not e.get("batched")]


def test_the_batcher_gathers_prepare_actions_only():
    batcher = PrepareBatcher(0.5)
    v = view()
    events = v.load([vmim("u1", "Running"), vmim("u2", "Pending", of="vm2")], [vmi("A", state("u1")), vmi("A", name="vm2")],
                    [pod("u1", "B")])
    busy = batcher.offer(prepare_event(9), now=99.999)     # a prepare, a millisecond before: a burst
    assert busy == [prepare_event(9)]
    offered = [e for event in events for e in batcher.offer(event, now=100.0)]
    assert [(e["action"], e.get("batched")) for e in offered] == [("prepare", True), ("pin", None)]
    assert batcher.due(100.0 + PrepareBatcher.SETTLE / 2) is None
    batch = batcher.due(100.001 + PrepareBatcher.SETTLE)
    assert (batch["type"], batch["action"], batch["count"]) == ("prepare_batch", "prepare", 1)
    assert [(m["vmim"], m["source_node"], m["target_node"]) for m in batch["migrations"]] == [("m-u1", "A", "B")]
    assert set(batch["migrations"][0]) == {"vmim", "vmim_uid", "vmi", "namespace", "source_node", "target_node",
                                           "network_opt", "target_scheduled_at"}
    assert PrepareBatcher(0).offer(events[0], now=1.0) == [events[0]]


def test_a_lone_migration_is_emitted_at_once():
    batcher = PrepareBatcher(2.0)
    sent = drive(batcher, [(0.0, prepare_event(1)), (5.0, prepare_event(2)), (5.5, prepare_event(3))], until=6.0)
    # Quiet before the first two; the third comes while the second is presumed running, but alone.
    assert acting(sent) == [(0.0, "vm1"), (5.0, "vm2"), (5.5, "vm3")]
    assert not any(e.get("batched") for _unused, e in sent)
    assert batcher.next_due() is None


def test_a_burst_gives_the_first_at_once_and_the_rest_in_one_batch():
    batcher = PrepareBatcher(2.0)
    burst = [(i * 0.0005, prepare_event(i)) for i in range(100)]    # 100 within 50 ms
    sent = drive(batcher, burst, until=3.0)
    acts_ = acting(sent)
    assert acts_[0] == (0.0, "vm0")
    assert len(acts_) == 2, acts_
    when, batch = acts_[1]
    assert batch == ["vm%d" % i for i in sorted(range(1, 100), key=lambda i: "vm%d" % i)]
    assert 0.05 <= when <= 0.05 + 2 * PrepareBatcher.SETTLE       # once the burst settled
    assert sum(1 for _unused, e in sent if e.get("batched")) == 99


def test_a_steady_stream_is_gathered_while_prepares_run():
    # One target every 100 ms for 5 s: at most two runs presumed at once, each batch takes what
    # came meanwhile, no migration is held longer than the window.
    batcher = PrepareBatcher(1.0)
    stream = [(i * 0.1, prepare_event(i)) for i in range(50)]
    sent = drive(batcher, stream, until=8.0)
    acts_ = acting(sent)
    acted = [vmi_ for _unused, what in acts_ for vmi_ in ([what] if isinstance(what, str) else what)]
    assert sorted(acted) == sorted("vm%d" % i for i in range(50))
    assert len(acts_) <= 12, acts_
    came = dict(("vm%d" % i, i * 0.1) for i in range(50))
    for when, what in acts_:
        for vmi_ in [what] if isinstance(what, str) else what:
            assert when - came[vmi_] <= 1.0 + 0.002, (vmi_, when)


def test_the_window_bounds_the_hold():
    # Prepares keep coming every 5 ms (never settles) while two are presumed running: the batch
    # still goes `window` seconds after its first migration came.
    batcher = PrepareBatcher(0.5)
    batcher.offer(prepare_event(900), 0.0)
    batcher.offer(prepare_event(901), 0.0)
    assert batcher.due(0.06)["count"] == 1           # two presumed running now
    stream = [(0.1 + i * 0.005, prepare_event(i)) for i in range(200)]
    sent = drive(batcher, stream, until=0.7)
    batches = [(t, e) for t, e in sent if e["type"] == "prepare_batch"]
    assert batches and abs(batches[0][0] - 0.6) < 0.0015, batches[0][0]
    assert batches[0][1]["migrations"][0]["vmi"] == "vm0"


def test_one_vmis_actions_keep_their_order():
    batcher = PrepareBatcher(2.0)
    assert batcher.offer(prepare_event(1), 0.0) == [prepare_event(1)]
    held = batcher.offer(prepare_event(2), 0.001)
    assert held[0]["batched"]
    # vm2 prepared again on another target while held: one entry, its latest nodes.
    batcher.offer(prepare_event(3, vmi_name="vm2", target="C"), 0.002)
    none = dict(prepare_event(2), action="none")
    assert batcher.offer(none, 0.003) == [none]            # no action: the batch stays held
    cutover = dict(prepare_event(3, vmi_name="vm2"), action="cutover")
    out = batcher.offer(cutover, 0.004)
    assert [e["type"] for e in out] == ["prepare_batch", "migration"]
    assert [(m["vmi"], m["vmim"], m["target_node"]) for m in out[0]["migrations"]] == [("vm2", "m3", "C")]
    assert out[1] is cutover
    assert batcher.due(1.0) is None
    other = dict(prepare_event(4), action="rollback")
    assert batcher.offer(other, 1.0) == [other]            # a VMI not held: nothing to send first
