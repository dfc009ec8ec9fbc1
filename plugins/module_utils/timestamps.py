# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one reader and writer of RFC 3339 times (Kubernetes timestamps, Ansible's now()).

Pure functions, no Ansible imports: modules, filters, the planner and the EDA source share them.
"""

import re
from datetime import datetime, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_TIME_RE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:[.,](\d+))?([Zz]|[+-]\d\d:?\d\d)?$")


def parse_time(text):
    """An aware UTC datetime from RFC 3339 text (any number of fraction digits; no zone = UTC), or None."""
    match = _TIME_RE.match(str(text or "").strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro,
                          tzinfo=timezone.utc)
    except ValueError:
        return None
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
        moment = datetime.fromtimestamp(moment.timestamp() - offset, timezone.utc)
    return moment


def seconds_between(start, end):
    """Seconds from one RFC 3339 time to another, or None when either is missing or malformed."""
    start, end = parse_time(start), parse_time(end)
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def micro_time(moment):
    """A MicroTime: RFC 3339 in UTC with exactly six fractional digits (the API refuses fewer)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def seconds_time(moment):
    """A metav1.Time: RFC 3339 in UTC, whole seconds."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def utcnow():
    return datetime.now(timezone.utc)
