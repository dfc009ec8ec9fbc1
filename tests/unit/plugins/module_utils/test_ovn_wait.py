"""The OVN write modules' `wait`: ovn-nbctl's stages stay as they were; booleans as kubernetes.core."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / ".venv" / "collections"))

import pytest  # noqa: E402

from ansible_collections.kubeovn.live_migration.plugins.module_utils.argspec import ovn_wait  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import ModuleError  # noqa: E402


@pytest.mark.parametrize("value, stage", [
    ("none", "none"), ("sb", "sb"), ("hv", "hv"), (" HV ", "hv"),
    (True, "hv"), (False, "none"), ("true", "hv"), ("yes", "hv"), ("false", "none"), ("no", "none"),
])
def test_stages_and_booleans(value, stage):
    assert ovn_wait(value) == stage


@pytest.mark.parametrize("value", ["northd", "", 3])
def test_anything_else_names_the_valid_values(value):
    with pytest.raises(ModuleError, match="none, sb, hv or a boolean"):
        ovn_wait(value)
