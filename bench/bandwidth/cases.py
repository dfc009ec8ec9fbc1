"""bench.downtime's three drivers. The unprepared one writes its cutover on the NB session it
opened when the migration started; a memory copy of tens of seconds outlasts the NB server's
inactivity probe on that idle session, so here it reconnects once when the session is gone."""
from bench.downtime import cases


class Unprepared(cases.Unprepared):
    def __call__(self, lab, namespace, vmi):
        self.lab = lab
        return super().__call__(lab, namespace, vmi)

    def cutover(self, lsps):
        from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn.ovsdb import OvsdbSessionLost
        try:
            super().cutover(lsps)
        except OvsdbSessionLost:
            # The mutate deletes then inserts our keys: writing it again gives the same row.
            self.nb = cases.nb_client(self.lab)
            super().cutover(lsps)


CASES = (Unprepared,) + tuple(c for c in cases.CASES if c is not cases.Unprepared)
NAMES = tuple(c.name for c in CASES)
