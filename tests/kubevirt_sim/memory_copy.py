"""How long a pre-copy live migration copies memory: from the VMIM's Running phase (virt-handler
has started the libvirt migration) to the switchover (the guest resumes on the target and QEMU
announces it with RARP).

The model follows QEMU's pre-copy loop (migration/migration.c `migration_iteration_run`,
migration/ram.c): the first pass sends all guest RAM; each later pass sends the pages dirtied
during the previous one; once what is left could be sent within the allowed downtime
(`downtime-limit`, migration/options.c DEFAULT_MIGRATE_SET_DOWNTIME = 300 ms; the threshold is
bandwidth x downtime-limit, `migration_update_counters`) the guest is paused and the rest sent
(stop-and-copy). Pages dirtied during one pass cannot exceed the guest's RAM.

KubeVirt caps the rate with `bandwidthPerMigration` (64 MiB/s in the user guide's defaults,
docs/operations/live_migration.md) and aborts a migration that is not done after
`completionTimeoutPerGiB` x the VMI's memory in GiB (800 s per GiB there;
pkg/virt-launcher/virtwrap/live-migration-source.go, the migration monitor). A guest that dirties
memory as fast as it is sent never converges: the result says so, with that abort time.

`allowAutoConverge` (QEMU auto-converge) throttles the vCPUs when a pass dirtied more than
`throttle-trigger-threshold` (50 %) of what it sent: 20 % at first, +10 % per further pass, at
most 99 % (migration/options.c DEFAULT_MIGRATE_CPU_THROTTLE_*); the dirty rate falls with it.
"""
import re
from dataclasses import dataclass

DOWNTIME_LIMIT = 0.3            # s, QEMU's default downtime-limit
COMPLETION_TIMEOUT_PER_GIB = 800.0   # s, KubeVirt's default completionTimeoutPerGiB
THROTTLE_TRIGGER = 0.5
THROTTLE_INITIAL, THROTTLE_INCREMENT, THROTTLE_MAX = 0.20, 0.10, 0.99
MAX_PASSES = 10000              # a bound for the loop; far beyond any completion timeout
GIB = 1 << 30

# Simulator knobs on a VMI (annotation or label): the migration bandwidth per second and the
# guest's dirty rate per second, as Kubernetes quantities ("256Mi", "1Gi", "500M").
BANDWIDTH_KEY = "kubevirt-sim.test/migration-bandwidth"
DIRTY_RATE_KEY = "kubevirt-sim.test/dirty-rate"

_SUFFIXES = {"": 1, "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12,
             "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}
_QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)\s*([kMGT]i?|Ki)?\s*$")


@dataclass(frozen=True)
class PreCopy:
    seconds: float          # Running -> switchover (the last pass and the stop-and-copy included)
    passes: int             # passes while the guest ran, the first full one included
    downtime: float         # s, the stop-and-copy: the guest is paused
    sent_bytes: float       # everything sent, every pass
    converged: bool         # False: KubeVirt aborts the migration after `seconds`


def quantity(text):
    """A Kubernetes quantity ("128Mi", "1Gi", "500M", "1024") -> bytes (float); ValueError if not one."""
    match = _QUANTITY.match(str(text))
    if not match:
        raise ValueError("%r is not a Kubernetes quantity such as 512Mi or 1Gi" % (text,))
    return float(match.group(1)) * _SUFFIXES[match.group(2) or ""]


def precopy(memory, bandwidth, dirty_rate=0.0, downtime_limit=DOWNTIME_LIMIT,
            completion_timeout_per_gib=COMPLETION_TIMEOUT_PER_GIB, auto_converge=False):
    """memory (bytes), bandwidth and dirty_rate (bytes/s) -> PreCopy."""
    if memory <= 0 or bandwidth <= 0 or dirty_rate < 0 or downtime_limit < 0:
        raise ValueError("memory and bandwidth must be positive, dirty_rate and downtime_limit not negative")
    abort_after = completion_timeout_per_gib * memory / GIB
    threshold = bandwidth * downtime_limit
    pending, elapsed, sent, passes, throttle = float(memory), 0.0, 0.0, 0, 0.0
    while passes < MAX_PASSES:
        if passes and pending <= threshold:
            downtime = pending / bandwidth
            return PreCopy(elapsed + downtime, passes, downtime, sent + pending, True)
        duration = pending / bandwidth
        if elapsed + duration > abort_after:
            break
        rate = dirty_rate * (1.0 - throttle)
        dirtied = min(float(memory), rate * duration)
        if auto_converge and dirtied > THROTTLE_TRIGGER * pending:
            throttle = THROTTLE_INITIAL if throttle == 0 else min(THROTTLE_MAX, throttle + THROTTLE_INCREMENT)
        elapsed, sent, passes, pending = elapsed + duration, sent + pending, passes + 1, dirtied
    return PreCopy(abort_after, passes, 0.0, sent, False)


def for_vmi(vmi):
    """PreCopy for a VMI that carries the bandwidth knob, else None (the simulator's fixed step).

    The memory is what KubeVirt migrates: spec.domain.memory.guest, else the memory request."""
    meta = vmi.get("metadata") or {}
    knobs = dict(meta.get("labels") or {})
    knobs.update(meta.get("annotations") or {})
    if not knobs.get(BANDWIDTH_KEY):
        return None
    domain = (vmi.get("spec") or {}).get("domain") or {}
    memory = ((domain.get("memory") or {}).get("guest")
              or ((domain.get("resources") or {}).get("requests") or {}).get("memory"))
    if not memory:
        raise ValueError("VMI %s has no memory size (spec.domain.memory.guest or resources.requests.memory)"
                         % meta.get("name"))
    return precopy(quantity(memory), quantity(knobs[BANDWIDTH_KEY]), quantity(knobs.get(DIRTY_RATE_KEY) or 0))
