# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module base class: merges the shared argument specs and turns ModuleError into fail_json.

A module declares only its own options and names the shared groups it uses:

    module = KubeovnModule(argument_spec=dict(...), shared=("ovn_nb",), supports_check_mode=True)
    module.run(main_logic)  # main_logic(module) returns the result dict

Each shared group is one argspec dict in plugins/module_utils/argspec.py paired with the doc
fragment of the same name in plugins/doc_fragments/.
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeovn.live_migration.plugins.module_utils.argspec import SHARED_ARGSPECS, SHARED_SECRET_VALUES
from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import ModuleError


class KubeovnModule(AnsibleModule):
    def __init__(self, argument_spec=None, shared=(), **kwargs):
        spec = {}
        for group in shared:
            spec.update(SHARED_ARGSPECS[group])
        spec.update(argument_spec or {})
        self._secret_groups = [SHARED_SECRET_VALUES[g] for g in shared if g in SHARED_SECRET_VALUES]
        super(KubeovnModule, self).__init__(argument_spec=spec, **kwargs)

    def _mask_derived_secrets(self):
        for values in self._secret_groups:
            self.no_log_values.update(values(getattr(self, "params", None) or {}))

    # AnsibleModule logs the invocation, and may fail on bad input, before __init__ returns: both
    # paths to an output mask the secrets no static no_log can name first.
    def _log_invocation(self):
        self._mask_derived_secrets()
        super(KubeovnModule, self)._log_invocation()

    def _return_formatted(self, kwargs):
        self._mask_derived_secrets()
        super(KubeovnModule, self)._return_formatted(kwargs)

    def run(self, logic):
        """Call logic(self) -> result dict and exit; expected errors become a clean failure."""
        try:
            result = logic(self)
        except ModuleError as err:
            self.fail_json(msg=err.msg, **err.details)
        self.exit_json(**result)
