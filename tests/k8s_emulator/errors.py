"""Kubernetes `Status` failures, raised inside the emulator and sent as the API sends them."""


class ApiError(Exception):
    """An HTTP error the emulator answers with a `Status` body."""

    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self):
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def _details(rtype, name):
    details = {"kind": rtype.plural}
    if name:
        details["name"] = name
    if rtype.group:
        details["group"] = rtype.group
    return details


def qualified(rtype):
    """`pods` for the core group, `virtualmachineinstancemigrations.kubevirt.io` otherwise."""
    return rtype.plural + ("." + rtype.group if rtype.group else "")


def not_found(rtype, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (qualified(rtype), name), _details(rtype, name))


def already_exists(rtype, name):
    return ApiError(409, "AlreadyExists", '%s "%s" already exists' % (qualified(rtype), name), _details(rtype, name))


def conflict(rtype, name, why="the object has been modified; please apply your changes to the latest version and try again"):
    return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": %s' % (qualified(rtype), name, why),
                    _details(rtype, name))


def invalid(rtype, name, message):
    kind = rtype.kind
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (kind, name or "", message), _details(rtype, name))


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def unsupported_media(accepted):
    return ApiError(415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types include: " + ", ".join(accepted))


def unauthorized():
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(user, verb, rtype, subresource, namespace, name):
    resource = rtype.plural + ("/" + subresource if subresource else "")
    subject = qualified(rtype) + (' "%s"' % name if name else "")
    scope = 'in the namespace "%s"' % namespace if namespace else "at the cluster scope"
    message = '%s is forbidden: User "%s" cannot %s resource "%s" in API group "%s" %s' % (
        subject, user, verb, resource, rtype.group, scope)
    return ApiError(403, "Forbidden", message, _details(rtype, name))


def expired(message):
    return ApiError(410, "Expired", message)


def path_not_found():
    return ApiError(404, "NotFound", "the server could not find the requested resource")
