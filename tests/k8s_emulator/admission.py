"""Validating admission webhooks, called as kube-apiserver calls them.

The emulator reads the ValidatingWebhookConfigurations in its store and, for a request one of
their rules matches, POSTs an admission.k8s.io/v1 AdmissionReview to the webhook's
`clientConfig.url` over HTTPS, trusting only its `caBundle`. A denial becomes the Status the
API server answers ("admission webhook "<name>" denied the request: <message>", the webhook's
code, at least 400); a webhook that cannot be reached fails the request unless its
failurePolicy is Ignore. Only `url` client configs are followed (a `service` needs cluster DNS);
namespaceSelector, objectSelector and matchConditions are not read.
"""
import asyncio
import base64
import json
import ssl
import uuid

import aiohttp

from . import errors

CONFIGURATIONS = "validatingwebhookconfigurations"


def _matches(values, wanted):
    return "*" in values or wanted in values


def rule_matches(rule, operation, group, version, resource):
    """A RuleWithOperations against one request (`resource` with its subresource: "pods/eviction")."""
    plural = resource.split("/")[0]
    resources = rule.get("resources") or []
    return (_matches(rule.get("operations") or [], operation) and _matches(rule.get("apiGroups") or [], group)
            and _matches(rule.get("apiVersions") or [], version)
            and ("*" in resources or resource in resources or (plural + "/*") in resources))


def webhooks_for(store, registry, operation, group, version, resource):
    rtype = registry.by_plural(CONFIGURATIONS)
    for config in store.list(rtype, lambda obj: True)[0]:
        for hook in config.get("webhooks") or []:
            if any(rule_matches(rule, operation, group, version, resource) for rule in hook.get("rules") or []):
                yield hook


def review_request(operation, kind, resource, route, obj, who):
    group, version, plural_and_sub = resource
    plural, _sep, sub = plural_and_sub.partition("/")
    request = {
        "uid": str(uuid.uuid4()), "kind": kind, "resource": {"group": group, "version": version, "resource": plural},
        "requestKind": kind, "requestResource": {"group": group, "version": version, "resource": plural},
        "name": route.name, "namespace": route.namespace, "operation": operation,
        "userInfo": {"username": who.user, "groups": list(who.groups)}, "object": obj, "oldObject": None,
        "dryRun": False, "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
    }
    if sub:
        request["subResource"] = request["requestSubResource"] = sub
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


async def _call(hook, review):
    config = hook.get("clientConfig") or {}
    url = config.get("url")
    if not url:
        raise RuntimeError("the emulator follows url client configs only, not a service")
    context = ssl.create_default_context(cadata=base64.b64decode(config["caBundle"]).decode("ascii")
                                         if config.get("caBundle") else None)
    timeout = aiohttp.ClientTimeout(total=int(hook.get("timeoutSeconds") or 10))
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.post(url, json=review, ssl=context) as response:
            if response.status != 200:
                raise RuntimeError("the webhook answered HTTP %d" % response.status)
            answer = json.loads(await response.text())
    reply = answer.get("response") or {}
    if reply.get("uid") != review["request"]["uid"]:
        raise RuntimeError("expected response.uid=%r, got %r" % (review["request"]["uid"], reply.get("uid")))
    return reply


async def validate(state, operation, kind, resource, route, obj, who):
    """Run every matching validating webhook; raise the API's error for the first that denies."""
    group, version, plural_and_sub = resource
    for hook in list(webhooks_for(state.store, state.registry, operation, group, version, plural_and_sub)):
        review = review_request(operation, kind, resource, route, obj, who)
        try:
            reply = await _call(hook, review)
        except (aiohttp.ClientError, asyncio.TimeoutError, RuntimeError, ValueError, KeyError) as exc:
            if hook.get("failurePolicy") == "Ignore":
                continue
            raise errors.ApiError(500, "InternalError", 'Internal error occurred: failed calling webhook "%s": %s'
                                  % (hook.get("name"), exc))
        if not reply.get("allowed"):
            result = reply.get("status") or {}
            message = 'admission webhook "%s" denied the request' % hook.get("name")
            message += ": " + result["message"] if result.get("message") else " without explanation"
            raise errors.ApiError(max(int(result.get("code") or 0), 400), result.get("reason", ""), message)
