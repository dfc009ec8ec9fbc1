# Source me: the environment every project command runs in.
# KLM_VENV picks the venv (default .venv, the newest ansible-core; .venv-core216 holds the oldest
# one requires_ansible claims, see scripts/bootstrap). The collection link stays in .venv.
# shellcheck shell=bash
KLM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KLM_VENV="${KLM_VENV:-.venv}"
case "$KLM_VENV" in /*) ;; *) KLM_VENV="$KLM_ROOT/$KLM_VENV" ;; esac
export KLM_ROOT KLM_VENV
export PATH="$KLM_VENV/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$KLM_ROOT/.venv/collections"
# Interpreter discovery finds a broken pyenv shim on these machines: name the venv's python.
export ANSIBLE_PYTHON_INTERPRETER="$KLM_VENV/bin/python"
export ANSIBLE_LOCALHOST_WARNING=false
export ANSIBLE_INVENTORY_UNPARSED_WARNING=false
export ANSIBLE_HOST_KEY_CHECKING=false
export ANSIBLE_NOCOLOR=1
# Test-only helpers (OVN sandbox, Kubernetes emulator, simulated KubeVirt) live in tests/.
export PYTHONPATH="$KLM_ROOT/tests${PYTHONPATH:+:$PYTHONPATH}"
