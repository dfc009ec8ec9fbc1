# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Event source kubeovn.live_migration.vmim_events: one event per meaningful change of a KubeVirt
VirtualMachineInstanceMigration, complete enough for a playbook to act without another lookup.

It follows three resources with the collection's own Kubernetes client (plugins/module_utils):
VMIMs, VMIs (migrationState, node) and the migration target virt-launcher pods (the target node is
known as soon as the scheduler binds the pod, often before the VMIM's phase changes). The client is
synchronous: each watch runs in a thread (k8s_watch.ResourceWatcher) and hands its events to the
event loop with call_soon_threadsafe; all state lives in the event loop, so nothing is locked.

This file is the async adapter only: what the source knows and decides (the events, the planner's
action on each, timeouts) is module_utils/k8s/migration_view.py, the batching of prepares and
cutovers module_utils/k8s/action_batcher.py, its options module_utils/k8s/source_options.py; all are
unit tested without I/O.
"""

DOCUMENTATION = r"""
---
short_description: Events for KubeVirt live migrations (VirtualMachineInstanceMigration)
description:
  - Lists, then watches VirtualMachineInstanceMigrations, VirtualMachineInstances and migration target pods.
  - On start, emits one event per migration still in flight (and per migration that ended within
    O(replay_ended_within) seconds), so a restarted rulebook picks up where it was.
  - A dropped watch resumes from its last resourceVersion; 410 Gone re-lists and emits what changed
    meanwhile; an unreachable API is retried with capped backoff and logged; the source never ends by itself.
  - Emits an event only when a field of the event changes.
  - Per-VM control by annotation on the VMI (KubeVirt copies them from the VM's
    C(spec.template.metadata.annotations)) - C(live-migration.kubeovn.io/enabled) (C("true") or C("false"))
    and C(live-migration.kubeovn.io/timeout) (seconds). Migrations of VMIs out of O(scope) give no event at all;
    a VMI that comes into scope while its migration is in flight gets a first event then (every field changed).
    A migration already followed when its VMI is opted out is followed to its end, so that what was prepared
    is cut over or rolled back.
  - A migration in flight longer than its timeout gets one event of type C(timeout) (the fields of a migration
    event, and C(timeout) in seconds). The time counts from the VMIM's creationTimestamp, or from when the source
    first followed it if later (after a restart of the source, or once its VMI came into scope).
  - Every migration and timeout event carries the decision of the collection's planner for its VMI
    (plugins/module_utils/migration_plan.py) - C(action) (C(pin), C(prepare), C(cutover), C(rollback), C(repair)
    or C(none)), C(reason), C(source_chassis), C(target_chassis), C(cancel) (true on a timeout, to delete the VMIM first) and
    C(timeout). The action is edge-triggered per VMI - the planned action on the first event that needs it (and on
    the first event after a start), C(none) on later events until the action, its migration or its chassis change.
    A migration followed and prepared when its VMI is opted out is still cut over or rolled back.
  - Every migration and timeout event carries C(network_opt) (C(in), C(out), or empty when the VMI does not say),
    C(migration_timeout) (seconds, or null when none applies) and C(target_scheduled_at) (when the target pod
    was scheduled, or null). These ride along; a change in them alone emits nothing.
  - Kubernetes auth options are those of kubernetes.core, with the same K8S_AUTH_* environment fallbacks.
  - Re-assert (with an NB connection, O(ovn_nb_connection) or C(OVN_NB_DB)) - a long-lived Northbound watcher
    (ovsdbapp's IDL, leader only, reconnecting) monitors, with OVSDB conditional monitoring, only the ports of the
    VMIs with a migration in flight (C(external_ids:pod)), never the whole Logical_Switch_Port table. When their
    C(requested-chassis) or C(activation-strategy) change after the collection's write landed (Kube-OVN deletes
    both whenever a pod of the VM is deleted), the planner decides again with the ports as seen, and a migration
    event with C(changes=[ports]) carries its action (C(prepare) or C(pin)), so the rule that prepared runs again.
options:
  namespaces:
    description: Namespaces to follow (a list or a comma-separated string). Empty means every namespace.
    type: list
    elements: str
  label_selector:
    description: Only VirtualMachineInstanceMigrations with these labels.
    type: str
  phases:
    description:
      - VMIM phases to emit events for; empty means every phase (and VMIMs without a phase yet).
      - Deletions of migrations still in flight, and C(timeout) events, are emitted whatever their phase.
    type: list
    elements: str
  scope:
    description:
      - Which VMIs the source emits events for - every VMI that is not opted out (V(all)), or only VMIs
        annotated C(live-migration.kubeovn.io/enabled=true) (V(opted_in)).
      - A VMI whose C(live-migration.kubeovn.io/enabled) value is neither C(true) nor C(false) counts as opted out.
    type: str
    choices: [all, opted_in]
    default: all
  migration_timeout:
    description:
      - Seconds a migration may stay in flight before a C(timeout) event is emitted for it; 0 means no timeout.
      - A VMI's C(live-migration.kubeovn.io/timeout) annotation overrides it for that VM.
    type: float
    default: 0
  prepare_batch_window:
    description:
      - Adaptive batching of pins, prepares and cutovers, for bursts (a node drain starts many migrations at once,
        and they then succeed close together). Each action is gathered apart, the same way, and this one option
        bounds all three.
      - The first migration whose action is C(pin), C(prepare) or C(cutover) after a quiet period is emitted at
        once, as its own event. One emitted is presumed running for this many seconds; those of the same action
        that come meanwhile are gathered and sent as one event of type C(pin_batch), C(prepare_batch) or
        C(cutover_batch) (its C(action) that action), whose C(migrations) list the fields a playbook needs (vmim,
        vmim_uid, vmi, namespace, source_node, target_node, network_opt, target_scheduled_at) and C(count) their
        number; their own migration events still come, marked C(batched=true), so that the rulebook acts on them
        once, in the batch.
      - A batch is sent once none of its action came for 50 ms while fewer than two of that action are presumed
        running, and at the latest this many seconds after its first migration came (the upper bound on any
        hold).
      - One VMI's actions keep their order - an event that needs another action for a VMI held in a batch (a
        cutover or rollback while its prepare is held, a rollback or prepare while its cutover is held) sends that
        batch first; a prepare or cutover of a VMI whose last prepare or cutover went as its own event less than
        this many seconds ago goes as its own event too (its rule's per-VM lock orders it; a batch takes no lock).
      - One C(ansible-playbook) run per VM cannot bind a hundred VMs' ports within the target pods' CNI
        timeout on a small controller; one batch run binds them in one OVSDB transaction.
      - 0 turns batching off - one event, and one run, per migration and action.
    type: float
    default: 2
  heartbeat:
    description: Seconds between heartbeat events (type C(heartbeat)); 0 sends none.
    type: float
    default: 0
  replay_ended_within:
    description: On start, also emit migrations that ended (Succeeded or Failed) this many seconds ago or less.
    type: float
    default: 300
  retry_max_delay:
    description: Longest wait, in seconds, between two attempts to reach an API server that does not answer.
    type: float
    default: 5
  kubeconfig:
    description: Path to a kubeconfig (env K8S_AUTH_KUBECONFIG).
  context:
    description: Kubeconfig context (env K8S_AUTH_CONTEXT).
  host:
    description: API server URL (env K8S_AUTH_HOST).
  api_key:
    description: Bearer token (env K8S_AUTH_API_KEY).
  validate_certs:
    description: Verify the API server certificate (env K8S_AUTH_VALIDATE_CERTS, K8S_AUTH_VERIFY_SSL).
  ca_cert:
    description: CA bundle (env K8S_AUTH_CA_CERT, K8S_AUTH_SSL_CA_CERT).
  client_cert:
    description: Client certificate (env K8S_AUTH_CLIENT_CERT, K8S_AUTH_CERT_FILE).
  client_key:
    description: Client key (env K8S_AUTH_CLIENT_KEY, K8S_AUTH_KEY_FILE).
  proxy:
    description: HTTP proxy URL (env K8S_AUTH_PROXY).
  persist_config:
    description: Write refreshed tokens back to the kubeconfig (env K8S_AUTH_PERSIST_CONFIG).
  username:
    description: Basic authentication user, with password (env K8S_AUTH_USERNAME).
  password:
    description: Basic authentication password (env K8S_AUTH_PASSWORD).
  no_proxy:
    description: Hosts reached without the proxy, comma-separated (env K8S_AUTH_NO_PROXY).
  proxy_headers:
    description: Proxy headers - proxy_basic_auth, basic_auth, user_agent (env K8S_AUTH_PROXY_HEADERS_<KEY>).
  impersonate_user:
    description: User to act as (env K8S_AUTH_IMPERSONATE_USER).
  impersonate_groups:
    description: Groups to act as, with impersonate_user (env K8S_AUTH_IMPERSONATE_GROUPS, comma-separated).
  reassert:
    description: Watch the managed ports in the Northbound database and re-assert their keys (needs an NB connection).
    type: bool
    default: true
  ovn_nb_connection:
    description:
      - The Northbound database, as ovn-nbctl's C(--db) (C(tcp:), C(ssl:), C(unix:); comma-separated RAFT members);
        env C(OVN_NB_DB). Without it, no port is watched.
    type: str
  ovn_private_key:
    description: Private key for C(ssl:) remotes (with O(ovn_certificate) and O(ovn_ca_cert)).
    type: str
  ovn_certificate:
    description: Certificate for C(ssl:) remotes.
    type: str
  ovn_ca_cert:
    description: CA certificate for C(ssl:) remotes.
    type: str
"""

EXAMPLES = r"""
- name: Follow live migrations
  hosts: localhost
  sources:
    - kubeovn.live_migration.vmim_events:
        namespaces: [vms, tenant-a]
        heartbeat: 30
        scope: opted_in
        migration_timeout: 600
  rules:
    - name: Show
      condition: event.type == "migration" and event.action != "none"
      action:
        debug:
"""

import asyncio
import logging
import os
import sys


def _put_collection_on_path():
    """ansible-rulebook runs this file with runpy.run_path, outside any package. To import the
    collection's own Kubernetes code (one client for modules and source), the directory that holds
    `ansible_collections/` must be on sys.path: found from this file's location when the collection is
    installed (<root>/ansible_collections/kubeovn/live_migration/extensions/eda/plugins/event_source),
    else from ANSIBLE_COLLECTIONS_PATH and Ansible's default collection paths."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = []
    for start in (here, os.path.dirname(os.path.realpath(__file__))):
        parts = start.split(os.sep)
        # .../ansible_collections/kubeovn/live_migration/extensions/eda/plugins/event_source
        if len(parts) > 7 and parts[-7] == "ansible_collections":
            candidates.append(os.sep.join(parts[:-7]))
    paths = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or os.environ.get("ANSIBLE_COLLECTIONS_PATHS") or ""
    candidates += [p for p in paths.split(os.pathsep) if p]
    candidates += [os.path.expanduser("~/.ansible/collections"), "/usr/share/ansible/collections"]
    for root in candidates:
        root = os.path.expanduser(root)
        if os.path.basename(root.rstrip(os.sep)) == "ansible_collections":
            root = os.path.dirname(root.rstrip(os.sep))
        if os.path.isdir(os.path.join(root, "ansible_collections", "kubeovn", "live_migration")):
            if root not in sys.path:
                sys.path.insert(0, root)
            return


_put_collection_on_path()

from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import KubernetesError  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.action_batcher import ActionBatcher  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.client import POD, VMI, VMIM, connect  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.migration_view import (  # noqa: E402
    MigrationView, whole_seconds,
)
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.reassert import (  # noqa: E402
    ReassertGuard, watch_options,
)
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.source_options import parse_options  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn.ovsdb import TlsSettings  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.vmim_record import (  # noqa: E402
    MIGRATION_JOB_LABEL,
)
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.watch import ResourceWatcher  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.timestamps import (  # noqa: E402
    seconds_time, utcnow,
)

LOG = logging.getLogger("kubeovn.live_migration.vmim_events")
FIRST_RETRY_DELAY = 0.1


# ---- the Kubernetes side -----------------------------------------------------------------------

class _ToLoop(object):
    """The sink a watcher thread puts into: forwards each item to an asyncio queue, thread-safely."""

    def __init__(self, loop, queue):
        self.loop = loop
        self.queue = queue

    def put(self, item):
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:
            pass  # the loop is closed: the source is shutting down


class _LoggedWatcher(ResourceWatcher):
    """A ResourceWatcher that says when the API cannot be reached."""

    def _backoff(self, err, failures):
        if err is not None:
            (LOG.warning if failures % 10 == 0 else LOG.debug)("watch %s: %s; retrying", self.key, err.msg)
        super(_LoggedWatcher, self)._backoff(err, failures)


class Follow(object):
    """One followed (resource, namespace): its selector and its current watcher thread."""

    def __init__(self, name, resource, namespace, label_selector):
        self.name = name                # "vmim", "vmi", "pod"
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.watcher = None


def _follows(options):
    """{namespace: [Follow]}: VMIMs, VMIs and migration target pods of each namespace (None: all)."""
    groups = {}
    for namespace in options["namespaces"]:
        groups[namespace] = [
            Follow("vmim", VMIM, namespace, options["label_selector"]),
            Follow("vmi", VMI, namespace, None),
            # Only migration target pods carry this label (its value is the VMIM's uid).
            Follow("pod", POD, namespace, MIGRATION_JOB_LABEL),
        ]
    return groups


class VmimEventSource(object):
    def __init__(self, options, auth, watch=None):
        self.options = options
        self.watch = watch or {}
        self.auth = auth
        self.view = MigrationView(options["phases"], options["replay_ended_within"], options["scope"],
                                  options["migration_timeout"])
        # Prepares and cutovers, both bounded by the one window option.
        self.batcher = ActionBatcher(options["prepare_batch_window"])
        self.guard = ReassertGuard(self.view)
        self.nb_watcher = None
        self.groups = _follows(options)
        self.watchers = {}      # watcher key -> (namespace, its Follow); keys of stopped watchers are dropped
        self.generation = 0
        self.client = None
        self.inbox = None
        self.loop = None

    def _delay(self, failures):
        return min(FIRST_RETRY_DELAY * (2 ** failures), self.options["retry_max_delay"])

    async def _call(self, what, func, *args, **kwargs):
        """Run a blocking client call in a thread; retry with capped backoff until it works."""
        failures = 0
        while True:
            try:
                result = await self.loop.run_in_executor(None, lambda: func(*args, **kwargs))
            except KubernetesError as err:
                # Unreachable (ConnectionLost) or refused (401, 403, 404): both can be fixed while we wait.
                level = logging.WARNING if failures % 10 == 0 else logging.DEBUG
                LOG.log(level, "%s: %s; retrying (attempt %d)", what, err.msg, failures + 1)
                await asyncio.sleep(self._delay(failures))
                failures += 1
                continue
            if failures:
                LOG.info("%s: the Kubernetes API answers again after %d failed attempt(s)", what, failures)
            return result

    async def _list_group(self, namespace):
        """List the three resources of `namespace` and (re)start their watches from those lists.

        Done together on start and whenever one watch expires (410) or gives up (403...): the
        view is then rebuilt from one coherent set of lists, and no older watch can replay stale
        objects over it (the events of stopped watchers are ignored by key)."""
        follows = self.groups[namespace]
        for follow in follows:
            if follow.watcher is not None:
                self.watchers.pop(follow.watcher.key, None)
                follow.watcher.stop()
                follow.watcher = None
        lists, versions = {}, {}
        for follow in follows:
            what = "list %s in %s" % (follow.resource.plural, namespace or "every namespace")
            lists[follow.name], versions[follow.name] = await self._call(
                what, self.client.list, follow.resource, namespace, follow.label_selector)
        for follow in follows:
            self.generation += 1
            key = "%s:%s#%d" % (follow.name, namespace or "*", self.generation)
            follow.watcher = _LoggedWatcher(self.client, follow.resource, namespace, versions[follow.name],
                                            _ToLoop(self.loop, self.inbox), key, label_selector=follow.label_selector)
            self.watchers[key] = (namespace, follow)
            follow.watcher.start()
        return lists

    async def run(self, queue):
        self.loop = asyncio.get_running_loop()
        self.inbox = asyncio.Queue()
        self.client = connect(self.auth)  # configuration errors end the source: they need a fix
        LOG.info("following VirtualMachineInstanceMigrations at %s in %s (scope %s, migration timeout %s)",
                 self.client.host, ", ".join(n or "every namespace" for n in self.groups), self.options["scope"],
                 "%s s" % whole_seconds(self.options["migration_timeout"]) if self.options["migration_timeout"] else "off")
        try:
            self._start_nb_watch()
            every = {"vmim": [], "vmi": [], "pod": []}
            for namespace in self.groups:
                for name, items in (await self._list_group(namespace)).items():
                    every[name] += items
            for event in self.view.load(every["vmim"], every["vmi"], every["pod"]):
                await self._put(queue, event)
            self._watch_ports()
            await self._follow(queue)
        finally:
            for follows in self.groups.values():
                for follow in follows:
                    if follow.watcher is not None:
                        follow.watcher.stop()
            if self.nb_watcher is not None:
                self.nb_watcher.stop()
            self.client.close()

    def _start_nb_watch(self):
        """The NB watcher of the managed ports (re-assert), when asked for and an NB connection is known. Its
        Python packages (ovs, ovsdbapp) are only needed then."""
        remotes = self.watch.get("ovn_nb_connection")
        if not (self.watch.get("reassert") and remotes):
            LOG.info("re-assert off: %s", "reassert is false" if remotes else "no ovn_nb_connection and no OVN_NB_DB")
            return
        try:
            import ovsdbapp  # noqa: F401  pylint: disable=unused-import
        except ImportError:
            LOG.error("re-assert off: the Python package ovsdbapp is missing (the collection's requirements.txt)")
            return
        from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn.nb_watch import NbPortWatcher
        tls = TlsSettings(self.watch.get("ovn_private_key"), self.watch.get("ovn_certificate"),
                          self.watch.get("ovn_ca_cert"))
        self.nb_watcher = NbPortWatcher(remotes, _ToLoop(self.loop, self.inbox), tls=tls,
                                        retry_max_delay=self.options["retry_max_delay"])
        self.nb_watcher.start()
        LOG.info("re-assert on: watching the ports of the VMIs with a migration in flight at %s", remotes)

    def _watch_ports(self):
        """Tell the NB watcher which VMIs are in play now."""
        if self.nb_watcher is not None:
            self.nb_watcher.watch(self.guard.watched())

    def _wait_time(self, next_beat):
        """Seconds until the next heartbeat or migration deadline, whichever comes first (None: none)."""
        waits = []
        if next_beat is not None:
            waits.append(next_beat - self.loop.time())
        batch_due = self.batcher.next_due()
        if batch_due is not None:
            waits.append(batch_due - self.loop.time())
        deadline = self.view.next_deadline()
        if deadline is not None:
            # A little past the deadline, so that due() finds it reached (the clocks do not tick together).
            waits.append((deadline - utcnow()).total_seconds() + 0.01)
        return max(0.0, min(waits)) if waits else None

    async def _follow(self, queue):
        heartbeat = self.options["heartbeat"] or None
        next_beat = self.loop.time() + heartbeat if heartbeat else None
        while True:
            for event in self.view.due():
                await self._put(queue, event)
            batch = self.batcher.due(self.loop.time())
            while batch is not None:
                await self._put_batch(queue, batch)
                batch = self.batcher.due(self.loop.time())
            try:
                key, kind, payload = await asyncio.wait_for(self.inbox.get(), self._wait_time(next_beat))
            except asyncio.TimeoutError:
                if heartbeat and self.loop.time() >= next_beat:
                    await queue.put(self._heartbeat())
                    next_beat = self.loop.time() + heartbeat
                continue
            if key == "ports":
                # From the NB watcher: ("ports", (namespace, vmi), {port: owned options}).
                if kind in self.guard.watched():
                    for event in self.guard.ports_changed(kind, payload):
                        LOG.info("re-assert %s/%s: %s", event["namespace"], event["vmi"], event["reason"])
                        await self._put(queue, event)
                continue
            if key not in self.watchers:
                continue  # from a watcher stopped by a re-list
            namespace, follow = self.watchers[key]
            if kind in ("RELIST", "ERROR"):
                if kind == "RELIST":
                    LOG.info("watch %s expired (410 Gone): listing %s again", key, namespace or "every namespace")
                else:
                    # 401, 403, 404...: the watcher gave up; fixable on the cluster side, so wait and list again.
                    LOG.error("watch %s: %s; listing again in %.1f s", key, payload.msg,
                              self.options["retry_max_delay"])
                    await asyncio.sleep(self.options["retry_max_delay"])
                events = self.view.resync(await self._list_group(namespace), namespace)
            else:
                events = self.view.apply(follow.name, kind, payload)
            for event in events:
                await self._put(queue, event)
            self._watch_ports()

    async def _put(self, queue, event):
        for each in self.batcher.offer(event, self.loop.time()):
            if each["type"].endswith("_batch"):
                await self._put_batch(queue, each)
                continue
            LOG.debug("event %s %s/%s phase %s changes %s%s", each["type"], each["namespace"], each["vmim"],
                      each["phase"], ",".join(each.get("changes") or ()), " (batched)" if each.get("batched") else "")
            await queue.put(each)

    @staticmethod
    async def _put_batch(queue, batch):
        LOG.debug("event %s of %d migrations", batch["type"], batch["count"])
        await queue.put(batch)

    def _heartbeat(self):
        problems = sorted(set(f.watcher.last_error.msg for follows in self.groups.values() for f in follows
                              if f.watcher is not None and f.watcher.last_error is not None))
        return {"type": "heartbeat", "time": seconds_time(utcnow()),
                "migrations_in_flight": self.view.in_flight(), "api_reachable": not problems,
                "problems": problems,
                "nb_watch": None if self.nb_watcher is None else {"connected": self.nb_watcher.connected,
                                                                  "ports": len(self.nb_watcher.replica)}}


async def main(queue, args):
    """ansible-rulebook's entry point: emit migration events on `queue` until cancelled."""
    args, watch = watch_options(args)
    options, auth = parse_options(args)
    await VmimEventSource(options, auth, watch).run(queue)


if __name__ == "__main__":
    # python vmim_events.py [namespace...]: print events, with K8S_AUTH_* or ~/.kube/config.

    class _Printer(object):
        async def put(self, event):
            sys.stdout.write("%s\n" % (event,))
            sys.stdout.flush()

    logging.basicConfig(level=logging.INFO)
    try:
        asyncio.run(main(_Printer(), {"namespaces": sys.argv[1:], "heartbeat": 10}))
    except KeyboardInterrupt:
        pass
