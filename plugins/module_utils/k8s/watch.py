# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A watch that survives: resumes from the last seen resourceVersion when a stream drops, and
re-lists when the API server answers 410 Gone. Runs in a thread and feeds a queue, so one waiter
can follow several resources (a VMIM and its target pods) at once without polling.

Events put on the queue are (key, type, payload):
  (key, "ADDED" | "MODIFIED" | "DELETED", object)
  (key, "RELIST", [objects])      the full current list after a 410
  (key, "ERROR", KubernetesError) a failure retrying cannot fix (401, 403, 404...); the thread ends
"""

import threading

from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import KubernetesError
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.client import ConnectionLost, WatchExpired

# A watch request lasts at most this long before it is re-opened from the last resourceVersion.
WATCH_SECONDS = 60
RETRY_MAX_DELAY = 2.0


def resource_version_of(obj):
    return (obj.get("metadata") or {}).get("resourceVersion")


class ResourceWatcher(threading.Thread):
    """Follow one resource (with optional selectors) from `resource_version`, feeding `sink`."""

    def __init__(self, client, resource, namespace, resource_version, sink, key,
                 label_selector=None, field_selector=None):
        super(ResourceWatcher, self).__init__(name="watch-" + key)
        self.daemon = True  # a module exits with exit_json; never wait for a blocked read
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.resource_version = resource_version
        self.sink = sink
        self.key = key
        self.label_selector = label_selector
        self.field_selector = field_selector
        # The reason the last attempt to (re)open the stream failed, for a timeout message.
        self.last_error = None
        self._stopping = threading.Event()
        self._stream = None

    def stop(self):
        self._stopping.set()
        stream = self._stream
        if stream is not None:
            stream.close()

    def run(self):
        failures = 0
        while not self._stopping.is_set():
            try:
                self._stream = self.client.watch(
                    self.resource, self.namespace, self.resource_version, label_selector=self.label_selector,
                    field_selector=self.field_selector, timeout_seconds=WATCH_SECONDS)
                if self._stopping.is_set():  # stop() came while the request was being made
                    return
                seen = 0
                for event_type, obj in self._stream:
                    seen += 1
                    failures = 0
                    self.last_error = None
                    self.resource_version = resource_version_of(obj) or self.resource_version
                    if event_type in ("ADDED", "MODIFIED", "DELETED"):
                        self.sink.put((self.key, event_type, obj))
                # The server ended the stream (its timeout, or a restart): resume from where we are,
                # backing off if it keeps ending streams before sending anything.
                if not seen:
                    self._backoff(None, failures)
                    failures += 1
            except WatchExpired:
                try:
                    items, self.resource_version = self.client.list(
                        self.resource, self.namespace, self.label_selector, self.field_selector)
                except ConnectionLost as err:
                    self._backoff(err, failures)
                    failures += 1
                    continue
                except KubernetesError as err:
                    self._fail(err)
                    return
                self.sink.put((self.key, "RELIST", items))
            except ConnectionLost as err:
                if self._stopping.is_set():
                    return
                self._backoff(err, failures)
                failures += 1
            except KubernetesError as err:
                self._fail(err)
                return
            except Exception as err:  # a bug must end the wait with a message, not leave it hanging
                self._fail(KubernetesError("the watch on %s stopped unexpectedly: %s: %s"
                                           % (self.key, type(err).__name__, err)))
                return
            finally:
                stream, self._stream = self._stream, None
                if stream is not None:
                    stream.close()

    def _backoff(self, err, failures):
        self.last_error = err or self.last_error
        self._stopping.wait(min(0.05 * (2 ** failures), RETRY_MAX_DELAY))

    def _fail(self, err):
        if not self._stopping.is_set():
            self.sink.put((self.key, "ERROR", err))
