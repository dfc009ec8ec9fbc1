"""pytest fixtures for the Prometheus stack.

pushgateway:       one real Pushgateway per test module (tests use distinct namespaces/VMIs),
                   stopped by pid at module end even when tests fail.
prometheus_stack:  factory; prometheus_stack(rule_files=[...]) starts a Pushgateway and a
                   Prometheus scraping it every second with those rules; stopped after the test.
"""
import pytest

from .stack import PrometheusStack, Pushgateway


@pytest.fixture(scope="module")
def pushgateway(tmp_path_factory):
    gateway = Pushgateway(tmp_path_factory.mktemp("pushgateway"))
    try:
        yield gateway.start()
    finally:
        gateway.stop()


@pytest.fixture
def prometheus_stack(tmp_path):
    stacks = []

    def make(rule_files=(), with_prometheus=True):
        stack = PrometheusStack(tmp_path / ("stack%d" % len(stacks)), rule_files=rule_files,
                                with_prometheus=with_prometheus)
        stacks.append(stack)
        return stack.start()

    try:
        yield make
    finally:
        for stack in stacks:
            stack.stop()
