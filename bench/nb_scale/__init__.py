"""bench/nb_scale: what one prepare costs as the OVN Northbound database grows.

Run from the repository root, after `. scripts/env.sh`:

    python -m bench.nb_scale                 # 100, 10,000 and 50,000 LSPs, 5 repeats
    python -m bench.nb_scale --sizes 100 --repeat 1

See bench/README.md for what is measured and how; docs/performance.md holds the figures.
"""
