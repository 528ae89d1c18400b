"""What a policy pattern may say, and the one spelling of a URL that rules are matched against.

Path patterns are matched against resolved absolute paths, so a pattern that is relative, has
an empty, ``.`` or ``..`` segment, or ends with ``/`` can never match anything: it would
protect nothing while looking as if it did. Such patterns are refused when the policy is
created, with the reason and the pattern that was probably meant. The same goes for network
patterns whose path part could never equal a path as it is sent.

A URL is matched in the form the gateway sends it: :func:`canonical_url` lowercases the scheme
and host, drops the default port, user info and fragment, and removes dot segments the way
the HTTP client does (``/v1/../admin`` is sent as ``/admin``). Path-prefix rules additionally
refuse a path that still holds a dot segment once percent-decoded (``/v1/%2e%2e/admin``),
because the server may decode it and climb out of the prefix.
"""

from __future__ import annotations

__all__ = [
    "canonical_url",
    "check_fs_pattern",
    "check_network_pattern",
    "path_prefix_matches",
    "remove_dot_segments",
]

URL_SCHEMES = ("http", "https", "ws", "wss")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _refuse(where: str, pattern: str, why: str, fix: str | None) -> ValueError:
    hint = f"; write {fix!r} instead" if fix else ""
    return ValueError(f"policy {where}: pattern {pattern!r} {why}{hint}")


def _clean_segments(pattern: str) -> str:
    """The pattern with empty, ``.`` and ``..`` segments resolved (the likely intent)."""
    out: list[str] = []
    for seg in pattern.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if out:
                out.pop()
            continue
        out.append(seg)
    return "/" + "/".join(out)


def check_fs_pattern(pattern: str, where: str = "fs") -> None:
    """Raise ValueError (saying why and what to write) unless ``pattern`` can match a
    resolved absolute path without ambiguity."""
    if "\0" in pattern:
        raise _refuse(where, pattern, "contains a NUL byte, which no path can hold", None)
    if pattern == "/" or pattern == "**":
        return
    if pattern == "*":
        raise _refuse(where, pattern, "matches one relative segment, never an absolute path", "/**")
    if not (pattern.startswith("/") or pattern.startswith("**/")):
        fixed = "/" + pattern.lstrip("/")
        raise _refuse(
            where,
            pattern,
            "is relative, but rules match absolute resolved paths "
            f"(or '**/{pattern.rstrip('/')}' for any directory)",
            _clean_segments(fixed),
        )
    body = pattern[3:] if pattern.startswith("**/") else pattern[1:]
    segs = body.split("/")
    if pattern.endswith("/"):
        raise _refuse(
            where,
            pattern,
            "ends with '/', but resolved paths never do "
            f"('{pattern.rstrip('/') or '/'}' is the directory alone)",
            pattern.rstrip("/") + "/**",
        )
    if "" in segs:
        raise _refuse(
            where,
            pattern,
            "has an empty segment ('//'), which no resolved path has",
            _clean_segments(pattern),
        )
    if "." in segs or ".." in segs:
        raise _refuse(
            where,
            pattern,
            "has a '.' or '..' segment, but paths are matched after resolution",
            _clean_segments(pattern),
        )
    for seg in segs:
        if "***" in seg:
            raise _refuse(
                where, pattern, "has '***', which is ambiguous", pattern.replace("***", "**")
            )
        if "**" in seg and seg != "**":
            a, _, b = seg.partition("**")
            if a and not b:
                fix = pattern.replace(seg, a + "/**")
            elif not a:
                fix = pattern.replace(seg, "**/*" + b)
            else:
                fix = pattern.replace(seg, a + "*" + b)
            raise _refuse(
                where,
                pattern,
                "uses '**' inside a segment, where it also crosses into other names "
                "('/data**' matches '/database/x'); '**' must be a whole segment",
                fix,
            )


def check_network_pattern(pattern: str, where: str = "network") -> None:
    p = pattern.strip()
    if p == "*":
        return
    if "://" in p:
        scheme, _, rest = p.partition("://")
        if scheme == "tcp":
            if not rest or "/" in rest:
                raise _refuse(where, pattern, "must be tcp://host:port", None)
            return
        if scheme.lower() not in URL_SCHEMES:
            raise _refuse(
                where, pattern, f"has scheme {scheme!r}; the gateway speaks http and https", None
            )
        host, slash, path = rest.partition("/")
        if not host or host.startswith(":"):
            raise _refuse(where, pattern, "has no host", None)
        if slash:
            full = "/" + path
            norm = remove_dot_segments(full)
            segs = full.split("/")[1:-1] if full.endswith("/") else full.split("/")[1:]
            if "" in segs or norm != full:
                clean = _clean_segments(full) + ("/" if full.endswith("/") else "")
                raise _refuse(
                    where,
                    pattern,
                    "has an empty, '.' or '..' path segment, but requests are matched as "
                    "they are sent (dot segments removed)",
                    f"{scheme}://{host}{clean}",
                )
        return
    if "/" in p:
        host, _, path = p.partition("/")
        raise _refuse(
            where,
            pattern,
            "has a path but no scheme, so it names no host",
            f"https://{host}/{path}",
        )
    if not p or p.startswith(":"):
        raise _refuse(where, pattern, "has no host", None)


def remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, as HTTP clients apply it before sending."""
    out: list[str] = []
    segs = path.split("/")
    for i, seg in enumerate(segs):
        last = i == len(segs) - 1
        if seg == ".":
            if last:
                out.append("")
            continue
        if seg == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
            continue
        out.append(seg)
    res = "/".join(out)
    if path.startswith("/") and not res.startswith("/"):
        res = "/" + res
    return res or "/"


def canonical_url(url: str) -> str:
    """``url`` as it goes on the wire (raises ValueError when it is not a URL)."""
    from urllib.parse import urlsplit, urlunsplit  # network policies only: not at import

    p = urlsplit(url)
    port = p.port  # raises ValueError on a bad port
    scheme = p.scheme.lower()
    host = (p.hostname or "").rstrip(".") if p.hostname else ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host
    if port is not None and _DEFAULT_PORTS.get(scheme) != port:
        netloc += f":{port}"
    path = remove_dot_segments(p.path) if p.path else "/"
    return urlunsplit((scheme, netloc, path, p.query, ""))


def path_prefix_matches(prefix: str, url: str) -> bool:
    """Does the path of (canonical) ``url`` lie under ``prefix``? Never when the path, once
    percent-decoded, still climbs (``%2e%2e``) or hides a separator the server may split on."""
    from urllib.parse import unquote, urlsplit

    try:
        path = urlsplit(url).path or "/"
    except ValueError:
        return False
    decoded = unquote(path).replace("\\", "/")
    if any(seg in (".", "..") for seg in decoded.split("/")):
        return False
    if decoded != path and remove_dot_segments(decoded) != decoded:
        return False
    if prefix.endswith("/"):
        return path.startswith(prefix)
    return path == prefix or path.startswith(prefix + "/")
