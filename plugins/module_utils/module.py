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

from ansible_collections.kubeovn.live_migration.plugins.module_utils.argspec import SHARED_ARGSPECS
from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import ModuleError


class KubeovnModule(AnsibleModule):
    def __init__(self, argument_spec=None, shared=(), **kwargs):
        spec = {}
        for group in shared:
            spec.update(SHARED_ARGSPECS[group])
        spec.update(argument_spec or {})
        super(KubeovnModule, self).__init__(argument_spec=spec, **kwargs)

    def run(self, logic):
        """Call logic(self) -> result dict and exit; expected errors become a clean failure."""
        try:
            result = logic(self)
        except ModuleError as err:
            self.fail_json(msg=err.msg, **err.details)
        self.exit_json(**result)
