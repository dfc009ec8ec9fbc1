# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception type the collection's service code raises for expected failures.

Clients and services raise ModuleError (or a subclass) with a message written for the operator;
KubeovnModule.run() turns it into fail_json in one place, so no module shows a traceback for an
error we anticipated.
"""


class ModuleError(Exception):
    """An expected failure: `msg` is shown to the user, `details` are added to the result."""

    def __init__(self, msg, **details):
        super(ModuleError, self).__init__(msg)
        self.msg = msg
        self.details = details


class OvsdbError(ModuleError):
    """OVSDB connection, protocol or transaction failure."""


class KubernetesError(ModuleError):
    """Kubernetes API or configuration failure."""
