"""A real Prometheus Pushgateway and Prometheus for the tests (Debian's binaries).

    from prometheus_stack import PrometheusStack
    with PrometheusStack(workdir, rule_files=[rules]) as stack:
        stack.pushgateway.url            # http://127.0.0.1:<free port>
        stack.pushgateway.samples("kubeovn_live_migration_outcomes_total", vmi="vm1")
        stack.prometheus.wait_for_alert("KubeovnLiveMigrationRolledBack", vmi="vm1")

See stack.py (life cycle), fixtures.py (pytest) and __main__.py (CLI).
"""
from .stack import (Prometheus, PrometheusStack, Pushgateway, StackError, free_port, http_get, pids_alive,
                    promtool_check_rules)

__all__ = ["Prometheus", "PrometheusStack", "Pushgateway", "StackError", "free_port", "http_get", "pids_alive",
           "promtool_check_rules"]
