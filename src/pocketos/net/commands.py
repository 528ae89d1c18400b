"""``curl`` and ``wget``: HTTP clients that reach the network only through the VM's gateway.

Exit statuses follow curl (6 resolve, 7 connect or blocked by policy, 22 ``-f`` on HTTP >= 400,
28 timeout, 47 too many redirects, 63 size limit) and wget (4 network failure, 8 server error
response). A policy denial reads ``curl: (7) Failed to connect: blocked by policy
(network.fetch on HOST)``. No progress meter is ever printed.
"""

from __future__ import annotations

import posixpath
import re
import secrets
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from pocketos.commands import command
from pocketos.commands._args import Opt, UsageError, parse
from pocketos.kernel.process import Context
from pocketos.net import get_gateway

if TYPE_CHECKING:
    from pocketos.net.gateway import Response

__all__ = ["curl", "wget"]

CURL_VERSION = "8.5.0"
USER_AGENT = f"curl/{CURL_VERSION}"

CURL_OPTS = [
    Opt("s", "silent"),
    Opt("S", "show-error"),
    Opt("f", "fail"),
    Opt("", "fail-with-body"),
    Opt("L", "location"),
    Opt("o", "output", "required", multiple=True),
    Opt("O", "remote-name", dest="remote_name"),
    Opt("X", "request", "required"),
    Opt("H", "header", "required", multiple=True),
    Opt("d", "data", "required", dest="data", multiple=True),
    Opt("", "data-ascii", "required", dest="data", multiple=True),
    Opt("", "data-binary", "required", dest="data_binary", multiple=True),
    Opt("", "data-raw", "required", dest="data_raw", multiple=True),
    Opt("", "data-urlencode", "required", dest="data_urlencode", multiple=True),
    Opt("", "json", "required", dest="json_data", multiple=True),
    Opt("F", "form", "required", multiple=True),
    Opt("u", "user", "required"),
    Opt("I", "head"),
    Opt("i", "include"),
    Opt("w", "write-out", "required"),
    Opt("m", "max-time", "required"),
    Opt("", "connect-timeout", "required"),
    Opt("v", "verbose"),
    Opt("A", "user-agent", "required"),
    Opt("e", "referer", "required"),
    Opt("G", "get"),
    Opt("k", "insecure"),
    Opt("", "compressed"),
    Opt("", "max-redirs", "required"),
    Opt("", "max-filesize", "required"),
    Opt("", "url", "required", multiple=True),
    Opt("N", "no-buffer"),
    Opt("#", "progress-bar"),
    Opt("", "no-progress-meter"),
    Opt("", "retry", "required"),
    Opt("h", "help"),
    Opt("V", "version"),
]

CURL_HELP = """\
Usage: curl [options...] <url>
 -d, --data <data>          HTTP POST data (@file reads a file, @- stdin)
     --data-binary <data>   HTTP POST binary data
     --data-raw <data>      HTTP POST data, '@' allowed
     --data-urlencode <d>   HTTP POST data, URL-encoded
     --json <data>          HTTP POST JSON
 -f, --fail                 Fail fast with no output on HTTP errors
     --fail-with-body       Fail on HTTP errors but save the body
 -F, --form <name=content>  Specify multipart MIME data
 -G, --get                  Put the post data in the URL and use GET
 -H, --header <header>      Pass custom header(s) to server
 -I, --head                 Show document info only
 -i, --include              Include protocol response headers in the output
 -L, --location             Follow redirects
     --max-redirs <num>     Maximum number of redirects allowed
     --max-filesize <bytes> Maximum file size to download
 -m, --max-time <seconds>   Maximum time allowed for transfer
 -o, --output <file>        Write to file instead of stdout
 -O, --remote-name          Write output to a file named as the remote file
 -s, --silent               Silent mode
 -S, --show-error           Show error even when -s is used
 -u, --user <user:password> Server user and password
 -A, --user-agent <name>    Send User-Agent <name> to server
 -v, --verbose              Make the operation more talkative
 -w, --write-out <format>   Use output FORMAT after completion
 -X, --request <method>     Specify request method to use

Requests go through the VM's network gateway: hosts must be allowed by the VM's policy.
"""


def _curl_usage_error(exc: UsageError) -> str:
    msg = exc.message.split("\n", 1)[0]
    m = re.search(r"invalid option -- '(.)'", msg)
    if m:
        opt = "-" + m.group(1)
        return f"curl: option {opt}: is unknown"
    m = re.search(r"unrecognized option '([^']*)'", msg)
    if m:
        return f"curl: option {m.group(1)}: is unknown"
    m = re.search(r"requires an argument -- '(.)'", msg)
    if m:
        return f"curl: option -{m.group(1)}: requires parameter"
    m = re.search(r"option '(--[^']*)' requires an argument", msg)
    if m:
        return f"curl: option {m.group(1)}: requires parameter"
    m = re.search(r"option '(--[^']*)' is ambiguous", msg)
    if m:
        return f"curl: option {m.group(1)}: is ambiguous"
    return msg


def _num(p: Any, key: str, kind: Any) -> Any:
    """A numeric option value or None (ValueError when it is not a number)."""
    v = p.opts.get(key)
    if v is None:
        return None
    if isinstance(v, list):
        v = v[-1]
    return kind(str(v))


def _strings(p: Any, key: str) -> list[str]:
    v = p.opts.get(key)
    if v is None:
        return []
    return [str(x) for x in v] if isinstance(v, list) else [str(v)]


class _CurlFail(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


async def _read_source(ctx: Context, spec: str) -> bytes:
    if spec == "-":
        return await ctx.stdin.read()
    try:
        return ctx.fs.read_bytes(spec)
    except OSError:
        raise _CurlFail(26, "Failed to open/read local data from file/application")


async def _collect_data(ctx: Context, p: Any) -> tuple[bytes | None, str | None]:
    """The POST body from -d/--data-binary/--data-raw/--data-urlencode/--json, in order."""
    parts: list[bytes] = []
    ctype: str | None = None
    for key, val in p.order:
        if key not in ("data", "data_binary", "data_raw", "data_urlencode", "json_data"):
            continue
        v = str(val)
        if key == "data":
            if v.startswith("@"):
                raw = await _read_source(ctx, v[1:])
                parts.append(raw.replace(b"\r", b"").replace(b"\n", b""))
            else:
                parts.append(v.encode("utf-8", "surrogateescape"))
        elif key == "data_binary" or key == "json_data":
            if v.startswith("@"):
                parts.append(await _read_source(ctx, v[1:]))
            else:
                parts.append(v.encode("utf-8", "surrogateescape"))
            if key == "json_data":
                ctype = "application/json"
        elif key == "data_raw":
            parts.append(v.encode("utf-8", "surrogateescape"))
        else:
            parts.append(await _urlencode_item(ctx, v))
    if not parts:
        return None, None
    sep = b"" if ctype == "application/json" else b"&"
    return sep.join(parts), ctype or "application/x-www-form-urlencoded"


async def _urlencode_item(ctx: Context, v: str) -> bytes:
    if v.startswith("="):
        return quote(v[1:], safe="").encode()
    if v.startswith("@"):
        data = await _read_source(ctx, v[1:])
        return quote(data, safe="").encode()
    if "=" in v:
        name, _, content = v.partition("=")
        return (name + "=" + quote(content, safe="")).encode()
    if "@" in v:
        name, _, path = v.partition("@")
        data = await _read_source(ctx, path)
        return name.encode() + b"=" + quote(data, safe="").encode()
    return quote(v, safe="").encode()


async def _multipart(ctx: Context, forms: list[str]) -> tuple[bytes, str]:
    boundary = "------------------------" + secrets.token_hex(8)
    out = bytearray()
    for f in forms:
        name, eq, value = f.partition("=")
        if not eq:
            raise _CurlFail(26, "Illegally formatted input field")
        ctype = None
        m = re.search(r";type=([^;]+)$", value)
        if m:
            ctype = m.group(1)
            value = value[: m.start()]
        out += f"--{boundary}\r\n".encode()
        if value.startswith("@"):
            path = value[1:]
            data = await _read_source(ctx, path)
            fname = posixpath.basename(path) if path != "-" else "-"
            out += (
                f'Content-Disposition: form-data; name="{name}"; filename="{fname}"\r\n'
                f"Content-Type: {ctype or 'application/octet-stream'}\r\n\r\n"
            ).encode()
            out += data
        else:
            if value.startswith("<"):
                data = await _read_source(ctx, value[1:])
            else:
                data = value.encode("utf-8", "surrogateescape")
            out += f'Content-Disposition: form-data; name="{name}"\r\n'.encode()
            if ctype:
                out += f"Content-Type: {ctype}\r\n".encode()
            out += b"\r\n" + data
        out += b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def _header_block(resp: Response) -> bytes:
    ver = resp.http_version or "HTTP/1.1"
    if ver == "HTTP/2":
        line = f"HTTP/2 {resp.status}"
    else:
        line = f"{ver} {resp.status} {resp.reason}".rstrip()
    lines = [line] + [f"{k}: {v}" for k, v in resp.headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


_WRITE_OUT = re.compile(r"%\{([a-z_]+)\}|%%|\\[ntr\\]")


def _write_out(fmt: str, resp: Response | None, url: str, elapsed: float, warn: list[str]) -> str:
    def sub(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok == "%%":
            return "%"
        if tok.startswith("\\"):
            return {"\\n": "\n", "\\t": "\t", "\\r": "\r", "\\\\": "\\"}[tok]
        var = m.group(1)
        if var in ("http_code", "response_code"):
            return f"{resp.status if resp else 0:03d}"
        if var == "url_effective":
            return resp.url if resp else url
        if var == "url":
            return url
        if var == "size_download":
            return str(resp.size) if resp else "0"
        if var == "content_type":
            return (resp.header("content-type") or "") if resp else ""
        if var == "num_redirects":
            return str(len(resp.history)) if resp else "0"
        if var == "redirect_url":
            if resp and resp.status in (301, 302, 303, 307, 308):
                from urllib.parse import urljoin

                loc = resp.header("location")
                return urljoin(resp.url, loc) if loc else ""
            return ""
        if var == "method":
            return resp.method if resp else ""
        if var == "time_total":
            return f"{elapsed:.6f}"
        if var == "remote_ip":
            return resp.remote_ip if resp else ""
        if var == "size_header":
            return str(len(_header_block(resp))) if resp else "0"
        warn.append(var)
        return ""

    return _WRITE_OUT.sub(sub, fmt)


def _remaining_time(ctx: Context, wanted: float | None) -> float | None:
    dl = ctx.budget.deadline
    if dl is None:
        return wanted
    left = max(0.001, dl - time.monotonic())
    return left if wanted is None else min(wanted, left)


@command("curl")
async def curl(ctx: Context) -> int:
    try:
        p = parse("curl", ctx.argv[1:], CURL_OPTS, status=2)
    except UsageError as exc:
        await ctx.stderr.write(
            (
                _curl_usage_error(exc) + "\ncurl: try 'curl --help' or "
                "'curl --manual' for more information\n"
            ).encode()
        )
        return 2
    if p.flag("help"):
        await ctx.out(CURL_HELP)
        return 0
    if p.flag("version"):
        await ctx.out(f"curl {CURL_VERSION} (pocketos) network gateway\nProtocols: http https\n")
        return 0
    silent = p.flag("silent")
    show_err = p.flag("show_error") or not silent

    async def fail(code: int, message: str) -> int:
        if show_err:
            await ctx.stderr.write(f"curl: ({code}) {message}\n".encode("utf-8", "replace"))
        return code

    urls = p.operands + p.list("url")
    if not urls:
        await ctx.stderr.write(
            b"curl: no URL specified\ncurl: try 'curl --help' or "
            b"'curl --manual' for more information\n"
        )
        return 2
    try:
        max_time = _num(p, "max_time", float)
        max_redirs = _num(p, "max_redirs", int)
        max_size = _num(p, "max_filesize", int)
    except ValueError:
        await ctx.stderr.write(
            b"curl: option: expected a proper numerical parameter\n"
            b"curl: try 'curl --help' or 'curl --manual' for more "
            b"information\n"
        )
        return 2
    try:
        body, ctype = await _collect_data(ctx, p)
        forms = p.list("form")
        if forms:
            if body is not None:
                await ctx.stderr.write(
                    b"Warning: You can only select one HTTP request "
                    b"method! You asked for both POST\nWarning: "
                    b"(-d, --data) and multipart formpost (-F, --form).\n"
                )
                return 2
            body, ctype = await _multipart(ctx, forms)
    except _CurlFail as exc:
        return await fail(exc.code, exc.message)
    method = "GET"
    if p.flag("head"):
        method = "HEAD"
    elif body is not None:
        method = "POST"
    if p.flag("get") and body is not None:
        query = body.decode("utf-8", "surrogateescape")
        urls = [u + ("&" if "?" in u else "?") + query for u in urls]
        body, ctype = None, None
        method = "HEAD" if p.flag("head") else "GET"
    if p.str("request"):
        method = str(p.str("request"))
    headers: list[tuple[str, str]] = [
        ("User-Agent", p.str("user_agent") or USER_AGENT),
        ("Accept", "*/*"),
    ]
    if p.str("referer"):
        headers.append(("Referer", str(p.str("referer"))))
    if p.str("user"):
        import base64

        user = str(p.str("user"))
        if ":" not in user:
            user += ":"
        headers.append(
            (
                "Authorization",
                "Basic " + base64.b64encode(user.encode("utf-8", "surrogateescape")).decode(),
            )
        )
    if ctype is not None:
        headers.append(("Content-Type", ctype))
    if p.list("json_data"):
        headers.append(("Accept", "application/json"))
        headers = [(k, v) for k, v in headers if not (k == "Accept" and v == "*/*")]
    for h in _strings(p, "header"):
        name, colon, value = h.partition(":")
        name = name.strip()
        if not colon:
            if name.endswith(";"):
                headers = [(k, v) for k, v in headers if k.lower() != name[:-1].lower()]
                headers.append((name[:-1], ""))
            continue
        value = value.strip()
        headers = [(k, v) for k, v in headers if k.lower() != name.lower()]
        if value:
            headers.append((name, value))
    from pocketos.net.gateway import NetworkError

    outputs = p.list("output")
    remote_names = p.count("remote_name") if p.get("remote_name") else 0
    gateway = get_gateway(ctx.kernel)
    status = 0
    verbose = p.flag("verbose")
    for idx, url in enumerate(urls):
        ctx.check_killed()
        if "://" not in url:
            url = "http://" + url
        out_path: str | None = None
        if idx < len(outputs):
            out_path = outputs[idx]
        elif idx - len(outputs) < remote_names:
            out_path = posixpath.basename(urlsplit(url).path)
            if not out_path:
                status = await fail(23, "Remote file name has no length")
                continue
        if verbose:
            await _verbose_request(ctx, method, url, headers)
        xfer = _Transfer(ctx, p, out_path, verbose)
        start = time.monotonic()
        try:
            resp = await gateway.request(
                method,
                url,
                headers,
                body,
                timeout=_remaining_time(ctx, max_time),
                follow_redirects=p.flag("location"),
                max_redirects=max_redirs,
                max_bytes=max_size,
                budget=ctx.budget,
                pid=ctx.pid,
                decode=p.flag("compressed"),
                verify=not p.flag("insecure"),
                on_head=xfer.head,
                on_data=xfer.data,
            )
        except NetworkError as exc:
            xfer.close()
            msg = exc.message
            if exc.kind == "blocked":
                msg = f"Failed to connect: {msg}"
            status = await fail(exc.curl_code, msg)
            if p.str("write_out"):
                await ctx.out(
                    _write_out(str(p.str("write_out")), None, url, time.monotonic() - start, [])
                )
            continue
        except BrokenPipeError:
            xfer.close()
            raise
        except OSError as exc:
            xfer.close()
            status = await fail(
                23, f"Failure writing output to destination ({out_path}: {exc.strerror})"
            )
            continue
        xfer.close()
        elapsed = time.monotonic() - start
        if p.str("write_out"):
            warn: list[str] = []
            text = _write_out(str(p.str("write_out")), resp, url, elapsed, warn)
            for w in warn:
                await ctx.stderr.write(f"curl: unknown --write-out variable: '{w}'\n".encode())
            await ctx.out(text)
        if xfer.failed:
            status = await fail(22, f"The requested URL returned error: {resp.status}")
    return status


class _Transfer:
    """Where one curl transfer writes: headers (``-i``/``-I``) then the body, streamed to
    stdout or to the ``-o`` file as it arrives."""

    def __init__(self, ctx: Context, p: Any, out_path: str | None, verbose: bool) -> None:
        self.ctx = ctx
        self.p = p
        self.out_path = out_path
        self.verbose = verbose
        self.failed = False
        self.skip = False
        self.fh: Any = None

    async def head(self, resp: Response) -> None:
        p = self.p
        if self.verbose:
            for r in [*resp.history, resp]:
                await self.ctx.stderr.write(
                    b"".join(b"< " + ln + b"\r\n" for ln in _header_block(r).split(b"\r\n")[:-2])
                    + b"< \r\n"
                )
        self.failed = (p.flag("fail") or p.flag("fail_with_body")) and resp.status >= 400
        if self.failed and not p.flag("fail_with_body"):
            self.skip = True
            return
        data = b""
        if p.flag("include") or p.flag("head"):
            if p.flag("location"):
                data += b"".join(_header_block(r) for r in resp.history)
            data += _header_block(resp)
        if self.out_path is not None and self.out_path != "-":
            self.fh = self.ctx.fs.open(self.out_path, "wb")
        await self.data(data, headers=True)

    async def data(self, chunk: bytes, headers: bool = False) -> None:
        if self.skip or (self.p.flag("head") and not headers):
            return
        self.ctx.check_killed()
        if self.fh is not None:
            self.fh.write(chunk)
        elif chunk:
            await self.ctx.stdout.write(chunk)

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None


async def _verbose_request(
    ctx: Context, method: str, url: str, headers: list[tuple[str, str]]
) -> None:
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    lines = [f"> {method} {path} HTTP/1.1", f"> Host: {parts.netloc.rpartition('@')[2]}"]
    lines += [f"> {k}: {v}" for k, v in headers]
    lines.append("> ")
    await ctx.stderr.write(("\r\n".join(lines) + "\r\n").encode("utf-8", "replace"))


# --------------------------------------------------------------------------------------------
# wget
# --------------------------------------------------------------------------------------------

WGET_OPTS = [
    Opt("q", "quiet"),
    Opt("", "no-verbose", dest="no_verbose"),
    Opt("v", "verbose"),
    Opt("O", "output-document", "required"),
    Opt("S", "server-response"),
    Opt("", "header", "required", multiple=True),
    Opt("", "post-data", "required"),
    Opt("", "post-file", "required"),
    Opt("", "method", "required"),
    Opt("", "body-data", "required"),
    Opt("T", "timeout", "required"),
    Opt("", "max-redirect", "required"),
    Opt("U", "user-agent", "required"),
    Opt("", "no-check-certificate"),
    Opt("P", "directory-prefix", "required"),
    Opt("", "user", "required"),
    Opt("", "password", "required"),
    Opt("t", "tries", "required"),
    Opt("", "content-on-error"),
    Opt("h", "help"),
    Opt("V", "version"),
]

WGET_HELP = """\
Usage: wget [OPTION]... [URL]...

  -q,  --quiet                 quiet (no output)
  -nv, --no-verbose            turn off verboseness, without being quiet
  -O,  --output-document=FILE  write documents to FILE ('-' for stdout)
  -P,  --directory-prefix=DIR  save files to DIR/
  -S,  --server-response       print server response
  -T,  --timeout=SECONDS       set the timeout to SECONDS
  -U,  --user-agent=AGENT      identify as AGENT
       --header=STRING         insert STRING among the headers
       --post-data=STRING      use the POST method; send STRING as the data
       --post-file=FILE        use the POST method; send contents of FILE
       --method=HTTPMethod     use method "HTTPMethod" in the request
       --body-data=STRING      send STRING as data (with --method)
       --max-redirect=NUM      maximum redirections allowed per page
       --user=USER --password=PASS   HTTP user and password
       --content-on-error      output the received content on server errors

Requests go through the VM's network gateway: hosts must be allowed by the VM's policy.
"""


def _wget_usage(exc: UsageError) -> str:
    first = exc.message.split("\n", 1)[0]
    return f"{first}\nUsage: wget [OPTION]... [URL]...\n\nTry `wget --help' for more options.\n"


@command("wget")
async def wget(ctx: Context) -> int:
    argv = ["--no-verbose" if a == "-nv" else a for a in ctx.argv[1:]]
    try:
        p = parse("wget", argv, WGET_OPTS, status=2)
    except UsageError as exc:
        await ctx.stderr.write(_wget_usage(exc).encode())
        return 2
    if p.flag("help"):
        await ctx.out(WGET_HELP)
        return 0
    if p.flag("version"):
        await ctx.out("GNU Wget 1.21 (pocketos network gateway)\n")
        return 0
    if not p.operands:
        await ctx.stderr.write(
            b"wget: missing URL\nUsage: wget [OPTION]... [URL]...\n\n"
            b"Try `wget --help' for more options.\n"
        )
        return 1
    quiet = p.flag("quiet")
    brief = p.flag("no_verbose")
    try:
        timeout = _num(p, "timeout", float)
        max_redirect = _num(p, "max_redirect", int)
        if max_redirect is None:
            max_redirect = 20
    except ValueError:
        await ctx.stderr.write(b"wget: Invalid number.\n")
        return 2
    headers: list[tuple[str, str]] = [
        ("User-Agent", p.str("user_agent") or "Wget/1.21"),
        ("Accept", "*/*"),
    ]
    for h in _strings(p, "header"):
        name, colon, value = h.partition(":")
        if colon:
            headers = [(k, v) for k, v in headers if k.lower() != name.strip().lower()]
            headers.append((name.strip(), value.strip()))
    if p.str("user"):
        import base64

        cred = f"{p.str('user')}:{p.str('password') or ''}"
        headers.append(("Authorization", "Basic " + base64.b64encode(cred.encode()).decode()))
    method = "GET"
    body: bytes | None = None
    if p.str("post_data") is not None:
        method, body = "POST", str(p.str("post_data")).encode("utf-8", "surrogateescape")
    elif p.str("post_file") is not None:
        try:
            body = ctx.fs.read_bytes(str(p.str("post_file")))
        except OSError as exc:
            await ctx.err(f"{p.str('post_file')}: {exc.strerror}")
            return 3
        method = "POST"
    if p.str("method"):
        method = str(p.str("method")).upper()
        if p.str("body_data") is not None:
            body = str(p.str("body_data")).encode("utf-8", "surrogateescape")
    if body is not None and not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/x-www-form-urlencoded"))
    from pocketos.net.gateway import NetworkError

    gateway = get_gateway(ctx.kernel)
    status = 0
    doc = p.str("output_document")
    prefix = p.str("directory_prefix")
    truncated_doc = False

    async def log(text: str) -> None:
        if not quiet:
            await ctx.stderr.write(text.encode("utf-8", "replace"))

    for url in p.operands:
        ctx.check_killed()
        if "://" not in url:
            url = "http://" + url
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        if not brief:
            await log(f"--{stamp}--  {url}\n")
        try:
            resp = await gateway.request(
                method,
                url,
                headers,
                body,
                timeout=_remaining_time(ctx, timeout),
                follow_redirects=True,
                max_redirects=max_redirect,
                budget=ctx.budget,
                pid=ctx.pid,
                verify=not p.flag("no_check_certificate"),
            )
        except NetworkError as exc:
            if exc.kind == "resolve":
                host = urlsplit(url).hostname or url
                await log(f"wget: unable to resolve host address '{host}'\n")
            elif exc.kind == "redirects":
                await log(f"{max_redirect} redirections exceeded.\n")
            else:
                await log(f"wget: {exc.message}\n")
            status = 4 if exc.kind != "redirects" else 8
            if exc.kind == "tls":
                status = 5
            continue
        if p.flag("server_response"):
            for r in [*resp.history, resp]:
                block = _header_block(r).decode("latin-1").split("\r\n")[:-2]
                await log("".join(f"  {ln}\n" for ln in block))
        if resp.status >= 400:
            if not brief:
                await log(f"HTTP request sent, awaiting response... {resp.status} {resp.reason}\n")
            await log(f"{stamp} ERROR {resp.status}: {resp.reason}.\n")
            status = 8
            if not p.flag("content_on_error"):
                if doc is not None and doc != "-" and not truncated_doc:
                    try:
                        ctx.fs.write_bytes(doc, b"")
                        truncated_doc = True
                    except OSError:
                        pass
                continue
        elif not brief:
            await log(f"HTTP request sent, awaiting response... {resp.status} {resp.reason}\n")
        if doc == "-":
            await ctx.stdout.write(resp.body)
            target = "-"
        else:
            if doc is not None:
                target = doc
            else:
                target = posixpath.basename(urlsplit(resp.url).path) or "index.html"
                if prefix:
                    target = prefix.rstrip("/") + "/" + target
                target = _unique_name(ctx, target)
            try:
                if prefix and doc is None:
                    ctx.fs.mkdir(prefix, parents=True, exist_ok=True)
                ctx.fs.write_bytes(target, resp.body, append=truncated_doc)
                truncated_doc = doc is not None
            except OSError as exc:
                await log(f"{target}: {exc.strerror}\n")
                status = 3
                continue
        n = len(resp.body)
        if brief:
            await log(f'{stamp} URL:{resp.url} [{n}/{n}] -> "{target}" [1]\n')
        else:
            ctype = resp.header("content-type")
            await log(
                f"Length: {n}" + (f" [{ctype}]" if ctype else "") + "\n"
                f"Saving to: '{target}'\n\n{stamp} - '{target}' saved [{n}/{n}]\n\n"
            )
    return status


def _unique_name(ctx: Context, name: str) -> str:
    if not ctx.fs.lexists(name):
        return name
    i = 1
    while ctx.fs.lexists(f"{name}.{i}"):
        i += 1
    return f"{name}.{i}"
