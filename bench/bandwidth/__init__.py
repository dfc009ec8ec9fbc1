"""bench.bandwidth: what the dual-chassis window costs the network, for several VM memory sizes
and migration bandwidths (the simulated KubeVirt's memory-copy model), measured from the
hypervisors' captures on the real OVN sandbox. See bench/README.md."""
