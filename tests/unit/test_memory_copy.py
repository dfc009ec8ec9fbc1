"""The simulated KubeVirt's pre-copy model (tests/kubevirt_sim/memory_copy.py)."""
import pytest

from kubevirt_sim.memory_copy import (BANDWIDTH_KEY, DIRTY_RATE_KEY, GIB, PreCopy, for_vmi, precopy, quantity)

MI = 1 << 20


def test_quantities():
    assert quantity("128Mi") == 128 * MI
    assert quantity("1Gi") == GIB
    assert quantity("500M") == 500e6
    assert quantity("1.5Gi") == 1.5 * GIB
    assert quantity(1024) == 1024
    with pytest.raises(ValueError):
        quantity("fast")


def test_an_idle_guest_is_one_pass_of_its_memory():
    # Nothing dirtied: one full pass, then an empty stop-and-copy.
    result = precopy(1 * GIB, 64 * MI)
    assert result == PreCopy(seconds=16.0, passes=1, downtime=0.0, sent_bytes=GIB, converged=True)


def test_the_copy_grows_with_memory_and_shrinks_with_bandwidth():
    assert precopy(2 * GIB, 64 * MI).seconds == 2 * precopy(GIB, 64 * MI).seconds
    assert precopy(GIB, 128 * MI).seconds == precopy(GIB, 64 * MI).seconds / 2


def test_dirty_pages_are_sent_again_until_the_rest_fits_the_downtime_limit():
    # 1 GiB at 100 MiB/s, 20 MiB/s dirtied: passes of 1024, 204.8 and 40.96 MiB (more than the
    # 100 MiB/s x 0.3 s = 30 MiB threshold), then 8.192 MiB fit it: stop-and-copy.
    result = precopy(GIB, 100 * MI, dirty_rate=20 * MI)
    assert result.converged
    assert result.passes == 3
    assert result.sent_bytes == pytest.approx((1024 + 204.8 + 40.96 + 8.192) * MI)
    assert result.downtime == pytest.approx(8.192 / 100)
    assert result.seconds == pytest.approx((1024 + 204.8 + 40.96 + 8.192) / 100)
    assert result.downtime <= 0.3


def test_a_guest_dirtying_as_fast_as_the_link_never_converges_and_kubevirt_aborts():
    result = precopy(2 * GIB, 64 * MI, dirty_rate=64 * MI)
    assert not result.converged
    assert result.seconds == 2 * 800.0      # completionTimeoutPerGiB x GiB
    assert result.downtime == 0.0


def test_auto_converge_throttles_the_guest_until_it_converges():
    plain = precopy(GIB, 64 * MI, dirty_rate=64 * MI)
    throttled = precopy(GIB, 64 * MI, dirty_rate=64 * MI, auto_converge=True)
    assert not plain.converged
    assert throttled.converged
    assert throttled.seconds < plain.seconds


def test_dirtied_pages_never_exceed_the_guest_memory():
    # The guest rewrites all its 256 MiB over and over: each pass is the whole memory again.
    result = precopy(256 * MI, 64 * MI, dirty_rate=10 * GIB, completion_timeout_per_gib=100)
    assert not result.converged
    assert result.sent_bytes == result.passes * 256 * MI


def test_bad_input():
    with pytest.raises(ValueError):
        precopy(0, 64 * MI)
    with pytest.raises(ValueError):
        precopy(GIB, 0)


def vmi(annotations=None, memory="1Gi", guest=None):
    domain = {"resources": {"requests": {"memory": memory}}}
    if guest:
        domain["memory"] = {"guest": guest}
    return {"metadata": {"name": "vm", "annotations": annotations or {}}, "spec": {"domain": domain}}


def test_a_vmi_without_the_bandwidth_knob_keeps_the_fixed_step():
    assert for_vmi(vmi()) is None


def test_a_vmi_with_the_knobs():
    assert for_vmi(vmi({BANDWIDTH_KEY: "256Mi"})).seconds == 4.0
    assert for_vmi(vmi({BANDWIDTH_KEY: "256Mi"}, guest="512Mi")).seconds == 2.0
    dirty = for_vmi(vmi({BANDWIDTH_KEY: "256Mi", DIRTY_RATE_KEY: "64Mi"}))
    assert dirty.passes > 1 and dirty.seconds > 4.0
    with pytest.raises(ValueError):
        for_vmi({"metadata": {"annotations": {BANDWIDTH_KEY: "1Gi"}}, "spec": {}})
