"""bench/nb_watch: what the EDA source's NB watcher costs on a large Northbound database.

Run from the repository root, after `. scripts/env.sh`:

    python -m bench.nb_watch                 # 50,000 LSPs, 3 repeats
    python -m bench.nb_watch --size 10000 --repeat 5

One NB ovsdb-server filled with Kube-OVN-like ports (bench/nb_scale). Each sample is a fresh process
(its peak RSS is its own): either the watcher as the source runs it (ovsdbapp's IDL, conditional
monitoring of one VM's two ports), timed from start to its first report and then from a wipe of the
VM's two keys to the report of it; or the same IDL with the same four columns but no condition (a
replica of the whole Logical_Switch_Port table), timed from start to its first complete copy.
Figures: docs/performance.md.
"""
