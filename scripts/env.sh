# Source me: the environment every project command runs in.
# shellcheck shell=bash
KLM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export KLM_ROOT
export PATH="$KLM_ROOT/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$KLM_ROOT/.venv/collections"
# Interpreter discovery finds a broken pyenv shim on these machines: name the venv's python.
export ANSIBLE_PYTHON_INTERPRETER="$KLM_ROOT/.venv/bin/python"
export ANSIBLE_LOCALHOST_WARNING=false
export ANSIBLE_INVENTORY_UNPARSED_WARNING=false
export ANSIBLE_HOST_KEY_CHECKING=false
export ANSIBLE_NOCOLOR=1
# Test-only helpers (OVN sandbox, Kubernetes emulator, simulated KubeVirt) live in tests/.
export PYTHONPATH="$KLM_ROOT/tests${PYTHONPATH:+:$PYTHONPATH}"
