"""The permission policy: capability domains, ordered rules, last match wins.

A policy maps domains (``fs``, ``network``, ``child_process``, ``env``, ``tool``, ``process``) to
``"allow"``, ``"deny"`` or ``{"default": ..., "rules": [...]}``. A rule is
``{"mode": "allow"|"deny"|"ask", "operations": [...], "paths": [...]}`` (``patterns`` is a synonym
of ``paths``; network rules usually say ``patterns``/``hosts``). Rules are evaluated in order
and the last one that matches decides; when none matches, the domain's default decides; a
missing domain is denied. ``*`` matches inside one path segment, ``**`` across segments. Empty
lists are rejected when the policy is created, because an empty list silently matching nothing
(or everything) is a classic policy bug.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pocketos.kernel.policyspec import (
    canonical_url,
    check_fs_pattern,
    check_network_pattern,
    path_prefix_matches,
)
from pocketos.kernel.record import SlotRecord

if TYPE_CHECKING:
    from dataclasses import dataclass as record
else:
    from pocketos.kernel.record import record

__all__ = [
    "DOMAINS",
    "DOMAIN_ALIASES",
    "DEFAULT_POLICY",
    "OP_GROUPS",
    "Decision",
    "Policy",
    "asking_thread",
    "PermissionRequest",
    "glob_to_regex",
    "match_host_pattern",
    "network_resource",
]

DOMAINS: dict[str, tuple[str, ...]] = {
    "fs": (
        "read",
        "write",
        "stat",
        "readdir",
        "create_dir",
        "rm",
        "rename",
        "symlink",
        "link",
        "readlink",
        "chmod",
        "truncate",
        "mount_sensitive",
    ),
    "network": ("fetch", "http", "dns", "listen"),
    "child_process": ("spawn",),
    "env": ("read", "write"),
    "tool": ("invoke",),
    "process": ("inspect",),
    "sandbox": ("run",),
}

#: operations a rule's ``write`` / ``read`` stand for: ``write`` is every mutation (a rule naming
#: ``write`` cannot leave ``truncate`` or ``rename`` open by accident), ``read`` is every way to
#: see contents (of a file, a directory listing, a link target); ``stat`` stays separate
OP_GROUPS: dict[str, dict[str, tuple[str, ...]]] = {
    "fs": {
        "write": (
            "write",
            "truncate",
            "chmod",
            "rm",
            "rename",
            "symlink",
            "link",
            "create_dir",
        ),
        "read": ("read", "readdir", "readlink"),
    },
}

#: accepted spellings of domain names (agentOS writes ``childProcess``)
DOMAIN_ALIASES = {"childProcess": "child_process"}

MODES = ("allow", "deny", "ask")
Decision = str  # "allow" | "deny" | "ask"

#: the defaults: the VM's own world is open, the host's is closed
DEFAULT_POLICY: dict[str, Any] = {
    "fs": "allow",
    "child_process": "allow",
    "env": "allow",
    "process": "allow",
    "tool": "deny",
    "network": "deny",
    "sandbox": "deny",
}


@lru_cache(maxsize=1024)
def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """``*`` = any run inside one segment, ``**`` = any run across segments (also zero
    segments: ``/data/**`` matches ``/data``), ``?`` = one character inside a segment."""
    i = 0
    out: list[str] = []
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 2
                if out and out[-1] == "/" and (i >= n or pattern[i] == "/"):
                    # "/**" or "/**/": zero or more whole segments
                    out.pop()
                    if i < n:
                        i += 1
                        out.append("(?:/.*)?/")
                    else:
                        out.append("(?:/.*)?")
                    continue
                out.append(".*")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def match_host_pattern(
    pattern: str,
    host: str,
    port: int | None = None,
    url: str | None = None,
    scheme: str | None = None,
) -> bool:
    """Match a network resource against what people write: ``api.openai.com``,
    ``*.github.com``, ``host:port``, ``https://api.example.com/v1/`` (a URL prefix) or
    ``tcp://host:port``."""
    p = pattern.strip()
    if p == "*":
        return True
    if "://" in p:
        pscheme, _, rest = p.partition("://")
        if pscheme == "tcp":
            p = rest
        else:
            if url is None:
                return False
            if rest.find("/") < 0:
                return _host_match(rest, host, port, scheme, pscheme)
            hostpart, _, _path = rest.partition("/")
            if not _host_match(hostpart, host, port, scheme, pscheme):
                return False
            try:
                sent = canonical_url(url)
            except ValueError:
                return False
            return path_prefix_matches("/" + _path, sent)
    return _host_match(p, host, port, scheme, None)


def _host_match(
    p: str, host: str, port: int | None, scheme: str | None, pscheme: str | None
) -> bool:
    if pscheme is not None and scheme is not None and pscheme != scheme:
        return False
    hp, pport = p, None
    if p.startswith("["):
        end = p.find("]")
        hp = p[1:end]
        rest = p[end + 1 :]
        if rest.startswith(":"):
            pport = rest[1:]
    elif p.count(":") == 1:
        hp, _, pport = p.partition(":")
    host = host.lower().rstrip(".")
    hp = hp.lower().rstrip(".")
    if pport not in (None, "", "*") and (port is None or str(port) != pport):
        return False
    if hp.startswith("*."):
        suffix = hp[1:]
        return host.endswith(suffix) and len(host) > len(suffix)
    if "*" in hp:
        return re.fullmatch(re.escape(hp).replace(r"\*", "[^.]*"), host) is not None
    return host == hp


def network_resource(url: str) -> tuple[str, dict[str, Any]]:
    """(host, match details) of ``url`` as it will be sent: what network rules are matched
    against, by the gateway and by every other place that decides on a URL."""
    if "://" not in url:
        return url, {"host": url}
    from urllib.parse import urlsplit  # network policies only: not at import

    try:
        sent = canonical_url(url)
        parts = urlsplit(sent)
        port = parts.port
    except ValueError:
        return url, {"host": url, "url": None}
    scheme = parts.scheme
    host = parts.hostname or ""
    if port is None:
        port = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(scheme)
    return host, {"host": host, "port": port, "url": sent, "scheme": scheme}


class Rule(SlotRecord):
    """One rule of a domain's policy: its mode applies to the operations and resources it
    names (``None``: any)."""

    __slots__ = ("mode", "operations", "patterns", "methods")

    def __init__(
        self,
        mode: str,
        operations: tuple[str, ...] | None,
        patterns: tuple[str, ...] | None,
        methods: tuple[str, ...] | None = None,
    ) -> None:
        self.mode = mode
        self.operations = operations
        self.patterns = patterns
        self.methods = methods

    def matches(self, op: str, resource: str, domain: str, extra: Mapping[str, Any]) -> bool:
        if self.operations is not None and op not in self.operations and "*" not in self.operations:
            return False
        if self.methods is not None and str(extra.get("method", "")).upper() not in self.methods:
            return False
        if self.patterns is None:
            return True
        for p in self.patterns:
            if domain == "network":
                if match_host_pattern(
                    p,
                    extra.get("host", resource),
                    extra.get("port"),
                    extra.get("url"),
                    extra.get("scheme"),
                ):
                    return True
            elif domain == "fs":
                if glob_to_regex(p).match(resource):
                    return True
            else:
                if glob_to_regex(p).match(resource) or p == resource:
                    return True
        return False


class DomainPolicy(SlotRecord):
    """One domain's policy: the default mode and the rules; the last matching rule wins."""

    __slots__ = ("default", "rules")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, default: str, rules: list[Rule] | None = None) -> None:
        self.default = default
        self.rules: list[Rule] = [] if rules is None else rules

    def decide(self, domain: str, op: str, resource: str, extra: Mapping[str, Any]) -> str:
        decision = self.default
        for rule in self.rules:
            if rule.matches(op, resource, domain, extra):
                decision = rule.mode
        return decision


@record
class PermissionRequest:
    """What an ``ask`` rule hands to the handler."""

    domain: str
    operation: str
    resource: str
    vm: str = ""
    pid: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def capability(self) -> str:
        return f"{self.domain}.{self.operation}"


#: handler(request) -> "allow_once" | "allow_always" | "deny" (sync or async)
PermissionHandler = Callable[[PermissionRequest], Any]


def expand_operations(domain: str, ops: tuple[str, ...]) -> tuple[str, ...]:
    """``ops`` with each group name (``write``, ``read``) replaced by what it stands for."""
    groups = OP_GROUPS.get(domain, {})
    out: list[str] = []
    for op in ops:
        for o in groups.get(op, (op,)):
            if o not in out:
                out.append(o)
    return tuple(out)


def _parse_list(value: Any, what: str, domain: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"policy {domain}: '{what}' must be a list of strings")
    if not value:
        raise ValueError(
            f"policy {domain}: '{what}' is an empty list (omit the key to match everything)"
        )
    for v in value:
        if not isinstance(v, str) or not v:
            raise ValueError(f"policy {domain}: '{what}' entries must be non-empty strings")
    return tuple(value)


class Policy:
    """A parsed, validated permission policy."""

    def __init__(
        self,
        spec: Mapping[str, Any] | None = None,
        *,
        handler: PermissionHandler | None = None,
        ask_timeout: float = 30.0,
    ) -> None:
        spec = DEFAULT_POLICY if spec is None else spec
        if not isinstance(spec, Mapping):
            raise ValueError("policy must be a mapping of domain -> rule set")
        self.spec = dict(spec)
        self.domains: dict[str, DomainPolicy] = {}
        for key, value in spec.items():
            domain = DOMAIN_ALIASES.get(key, key) if isinstance(key, str) else key
            if domain not in DOMAINS:
                raise ValueError(
                    f"unknown permission domain {key!r}; known: {', '.join(DOMAINS)}"
                    + " (childProcess is accepted for child_process)"
                )
            if domain in self.domains:
                raise ValueError(
                    f"policy: both {domain!r} and its alias are given; keep one of them"
                )
            self.domains[domain] = self._parse_domain(domain, value)
        self.handler = handler
        self.ask_timeout = ask_timeout
        self._always: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    @staticmethod
    def _parse_domain(domain: str, value: Any) -> DomainPolicy:
        if isinstance(value, str):
            if value not in MODES:
                raise ValueError(f"policy {domain}: mode must be allow, deny or ask, not {value!r}")
            return DomainPolicy(value)
        if not isinstance(value, Mapping):
            raise ValueError(f"policy {domain}: expected 'allow', 'deny' or {{default, rules}}")
        unknown = set(value) - {"default", "rules"}
        if unknown:
            raise ValueError(f"policy {domain}: unknown key(s) {', '.join(sorted(unknown))}")
        default = value.get("default", "deny")
        if default not in MODES:
            raise ValueError(f"policy {domain}: default must be allow, deny or ask")
        rules_spec = value.get("rules", None)
        rules: list[Rule] = []
        if rules_spec is not None:
            if not isinstance(rules_spec, list):
                raise ValueError(f"policy {domain}: rules must be a list")
            if not rules_spec:
                raise ValueError(f"policy {domain}: rules is an empty list")
            for r in rules_spec:
                if not isinstance(r, Mapping):
                    raise ValueError(f"policy {domain}: each rule must be a mapping")
                known = ("mode", "operations", "paths", "patterns", "hosts", "methods")
                unknown = set(r) - set(known)
                if unknown:
                    import difflib  # only for this message

                    hints = [
                        f"{k!r} -> {m[0]!r}"
                        for k in sorted(map(str, unknown))
                        if (m := difflib.get_close_matches(k, known, 1))
                    ]
                    raise ValueError(
                        f"policy {domain}: unknown rule key(s) "
                        f"{', '.join(sorted(map(str, unknown)))}; known: {', '.join(known)}"
                        + (f" (did you mean {', '.join(hints)}?)" if hints else "")
                    )
                mode = r.get("mode")
                if mode not in MODES:
                    raise ValueError(f"policy {domain}: rule mode must be allow, deny or ask")
                ops = _parse_list(r.get("operations"), "operations", domain)
                if ops is not None:
                    bad = [o for o in ops if o != "*" and o not in DOMAINS[domain]]
                    if bad:
                        raise ValueError(
                            f"policy {domain}: unknown operation(s) "
                            f"{', '.join(bad)}; known: {', '.join(DOMAINS[domain])}"
                        )
                    ops = expand_operations(domain, ops)
                pats: tuple[str, ...] | None = None
                for key in ("paths", "patterns", "hosts"):
                    if key in r:
                        got = _parse_list(r[key], key, domain)
                        pats = (pats or ()) + (got or ())
                for pat in pats or ():
                    if domain == "fs":
                        check_fs_pattern(pat)
                    elif domain == "network":
                        check_network_pattern(pat)
                methods = _parse_list(r.get("methods"), "methods", domain)
                if methods is not None:
                    if domain != "network":
                        raise ValueError(f"policy {domain}: 'methods' applies to network rules")
                    methods = tuple(m.upper() for m in methods)
                rules.append(Rule(mode, ops, pats, methods))
        return DomainPolicy(default, rules)

    @classmethod
    def coerce(
        cls, value: Policy | Mapping[str, Any] | None, handler: PermissionHandler | None = None
    ) -> Policy:
        if isinstance(value, Policy):
            if handler is not None:
                value.handler = handler
            return value
        if value is None and handler is None:
            return _default_policy()
        return cls(value, handler=handler)

    def decide(
        self, domain: str, op: str, resource: str, extra: Mapping[str, Any] | None = None
    ) -> str:
        """ "allow", "deny" or "ask" — without consulting the handler."""
        dp = self.domains.get(domain)
        if dp is None:
            return "deny"
        if (domain, op, resource) in self._always:
            return "allow"
        return dp.decide(domain, op, resource, extra or {})

    def ask(self, request: PermissionRequest) -> bool:
        """Consult the handler for an ``ask`` decision from sync code (thread + timeout)."""
        handler = self.handler
        if handler is None:
            return False

        caller = threading.get_ident()

        def call() -> Any:
            _asking.thread = caller
            res = handler(request)
            if inspect.isawaitable(res):

                async def wait() -> Any:
                    return await res

                return asyncio.run(wait())
            return res

        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        try:
            # the handler sees the asker's context variables (who runs the command)
            fut = pool.submit(contextvars.copy_context().run, call)
            answer = fut.result(timeout=self.ask_timeout)
        except concurrent.futures.TimeoutError:
            return False
        except Exception:
            return False
        finally:
            pool.shutdown(wait=False)
        return self._record(request, answer)

    async def ask_async(self, request: PermissionRequest) -> bool:
        handler = self.handler
        if handler is None:
            return False
        try:
            res = handler(request)
            if inspect.isawaitable(res):
                res = await asyncio.wait_for(res, self.ask_timeout)
        except (TimeoutError, Exception):
            return False
        return self._record(request, res)

    def _record(self, request: PermissionRequest, answer: Any) -> bool:
        a = str(getattr(answer, "value", answer)).lower()
        if a in ("allow_always", "always"):
            with self._lock:
                self._always.add((request.domain, request.operation, request.resource))
            return True
        return a in ("allow_once", "allow", "once", "true", "yes")


_asking = threading.local()


def asking_thread() -> int | None:
    """In a handler that ``Policy.ask`` called: the thread whose synchronous check waits for
    the answer (that thread is blocked until the handler returns), else None."""
    return getattr(_asking, "thread", None)


_DEFAULT: Policy | None = None


def _default_policy() -> Policy:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Policy(DEFAULT_POLICY)
    return _DEFAULT
