"""bench/downtime: the traffic gap a VM sees while it live-migrates, with and without the collection.

Run from the repository root, after `. scripts/env.sh`:

    python -m bench.downtime                 # unprepared, collection/playbook, collection/eda; 10 runs each
    python -m bench.downtime --repeat 1      # tiny: one run per case (the smoke test)

See bench/README.md and docs/performance.md ("Traffic gap during a migration").
"""
