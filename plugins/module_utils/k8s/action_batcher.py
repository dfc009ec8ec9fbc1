# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Adaptive batching of the EDA event source's actions, for bursts: one implementation for every
action it gathers (pin when a node drain creates many migrations at once, prepare when it schedules
their targets, cutover when their migrations then succeed close together).

ActionBatcher sends the first event of an action after a quiet period at once, as its own event, and
gathers the ones of that action that come while others are presumed running into one `<action>_batch`
event (C(pin_batch), C(prepare_batch), C(cutover_batch)). Each action has its own Gathering: held events, runs
presumed running. No Ansible imports, no I/O: the clock is a parameter (seconds, any monotonic origin).
"""

# What a playbook needs of each migration of a batch event (prepare: the nodes to bind at once;
# cutover: which VMIs to read back and cut over).
BATCH_FIELDS = ("vmim", "vmim_uid", "vmi", "namespace", "source_node", "target_node", "network_opt",
                "target_scheduled_at")
# The actions the event source gathers, in the order their held batches are sent when several are due
# (a drain creates its VMIMs at once: pins, then prepares, then cutovers).
BATCHED_ACTIONS = ("pin", "prepare", "cutover")
# Those whose single-VMI rule takes the VMI's lock (the pin rule takes none: a late pin changes nothing).
LOCKED_ACTIONS = ("prepare", "cutover")


def _key(event):
    return event.get("namespace"), event.get("vmi")


class Gathering(object):
    """The held events of one action and the runs of that action presumed running."""

    def __init__(self, action, window, settle, runs):
        self.action = action
        self.window = window
        self.settle = settle
        self.runs = runs
        self.pending = {}     # (namespace, vmi) -> the BATCH_FIELDS of its latest event
        self.first = None     # when the oldest held event came
        self.last = None      # when the newest held event came
        self.started = []     # when each run presumed still running was sent, oldest first

    def goes_alone(self, now):
        """Whether an event of this action that comes now is sent at once: none held, fewer than `runs`
        presumed running, and the last one went `settle` seconds ago or more (no burst)."""
        self.forget(now)
        return not self.pending and len(self.started) < self.runs and (
            not self.started or now - self.started[-1] >= self.settle)

    def hold(self, event, now):
        self.pending[_key(event)] = dict((k, event.get(k)) for k in BATCH_FIELDS)
        if self.first is None:
            self.first = now
        self.last = now

    def next_due(self):
        """When the held batch may go (None: nothing held): once no event came for `settle` seconds and
        fewer than `runs` are presumed running, at the latest `window` seconds after the first came."""
        if not self.pending:
            return None
        bound = self.first + self.window
        busy = len(self.started) - self.runs
        free = self.started[busy] + self.window if busy >= 0 else self.last
        return min(bound, max(self.last + self.settle, free))

    def forget(self, now):
        """Drop the runs no longer presumed running."""
        self.started = [t for t in self.started if now < t + self.window]

    def flush(self, now):
        """The batch event of the held events (sent now: a run presumed running from now)."""
        migrations = [self.pending[key] for key in sorted(self.pending, key=lambda k: (k[0] or "", k[1] or ""))]
        self.pending, self.first, self.last = {}, None, None
        self.started.append(now)
        return {"type": "%s_batch" % self.action, "action": self.action, "migrations": migrations,
                "count": len(migrations)}


class ActionBatcher(object):
    """Adaptive batching of the migration events whose action is one of `actions` (a node drain).

    The source cannot see when a playbook run ends, so a run it caused is presumed running for
    `window` seconds. Per action: an event is sent at once when none of that action is held, fewer
    than `runs` are presumed running and the last one went more than `settle` seconds ago, so a
    lone migration waits for nothing, even right after another one. Any other (a burst) is held -
    its own event still goes, marked `batched`, so that only the batch acts on it - and the held
    ones go as one `<action>_batch` event (`action`, `migrations`: the BATCH_FIELDS of each, `count`):
    - once none came for `settle` seconds (the burst has been gathered) while fewer than `runs` are
      presumed running; so a burst gives its first migration at once and the rest in one batch that
      runs alongside it, and a steady stream is gathered into at most `runs` runs at a time;
    - at the latest `window` seconds after the first of them came (the bound on any hold).
    One VMI's actions keep the order of its events:
    - an event of a held VMI that needs another action (a cutover while its prepare is held, a
      rollback or a new prepare while its cutover is held) sends that batch first; a VMI held twice
      for the same action keeps its latest fields;
    - an event of a VMI whose last batched action (prepare, cutover) went alone less than `window`
      seconds ago goes alone too: its rule takes the VMI's lock, so it runs after that one (a batch
      run takes no lock). Pins and rollbacks do not count: a drain's pins come milliseconds
      before its prepares, which must still be gathered, and the pin rule takes no lock.
    `window` 0: no batching, every event as it comes.

    offer() and due() take `now`; due() gives one batch at a time (call it until None)."""

    # Seconds without a new event after which a gathered burst is complete: well above the ms between
    # the watch events of a burst (tens of ms on a loaded controller), nothing next to a playbook run.
    SETTLE = 0.05
    RUNS = 2        # runs of one action presumed running at once before the next ones wait for one to end

    def __init__(self, window, actions=BATCHED_ACTIONS, settle=SETTLE, runs=RUNS):
        self.window = window
        self.gatherings = [Gathering(action, window, settle, runs) for action in actions]
        self.alone = {}       # (namespace, vmi) -> when its last batched action went as its own event

    def gathering(self, action):
        """The Gathering of `action` (None: not batched)."""
        for each in self.gatherings:
            if each.action == action:
                return each
        return None

    def offer(self, event, now):
        """The events to send for `event`, in order: itself (marked `batched` when held), preceded
        by the held batches of its VMI's other actions."""
        if not self.window:
            return [event]
        action = event.get("action")
        if action in (None, "none"):
            return [event]
        key = _key(event)
        mine = self.gathering(action) if event.get("type") == "migration" else None
        out = [g.flush(now) for g in self.gatherings if g is not mine and key in g.pending]
        if mine is None:
            return out + [event]
        self._forget(now)
        mine.forget(now)
        locked = action in LOCKED_ACTIONS
        if key not in mine.pending and ((locked and key in self.alone) or mine.goes_alone(now)):
            mine.started.append(now)
            if locked:
                self.alone[key] = now
            return out + [event]
        mine.hold(event, now)
        return out + [dict(event, batched=True)]

    def next_due(self):
        """When due() may have a batch to send (None: nothing held)."""
        times = [t for t in (g.next_due() for g in self.gatherings) if t is not None]
        return min(times) if times else None

    def due(self, now):
        """The first batch event whose time has come, else None."""
        for each in self.gatherings:
            when = each.next_due()
            if when is None:
                continue
            each.forget(now)
            if now >= each.next_due():
                return each.flush(now)
        return None

    def _forget(self, now):
        """Drop the VMIs whose last action alone is no longer presumed running."""
        if self.alone:
            self.alone = dict((k, t) for k, t in self.alone.items() if now < t + self.window)


class PrepareBatcher(ActionBatcher):
    """An ActionBatcher that gathers prepares only (cutovers and the rest go as they come)."""

    def __init__(self, window, settle=ActionBatcher.SETTLE, runs=ActionBatcher.RUNS):
        super(PrepareBatcher, self).__init__(window, ("prepare",), settle, runs)
