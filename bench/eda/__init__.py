"""bench/eda: from a Kubernetes change to OVN, through the real ansible-rulebook and playbooks.

Run from the repository root, after `. scripts/env.sh`:

    python -m bench.eda latency --migrations 20     # event -> NB and -> SB, p50/p95
    python -m bench.eda burst --vms 100              # 100 VMs migrating at once: all prepared, then all cut over

See docs/eda.md for what is measured and the figures.
"""
