"""Talking to other repositories: git's smart HTTP protocol through the VM's network gateway
(the policy decides which hosts; header transforms add credentials the VM never sees), and
repositories at a path inside the VM."""

from __future__ import annotations

import posixpath
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from io import BytesIO

from dulwich.objects import Commit, Tag, Tree
from dulwich.pack import PackData, PackInflater, write_pack_objects

from pocketos.git.repo import GitError, Repo, find_repo
from pocketos.kernel.budget import check_time

__all__ = ["Remote", "Advert", "pkt", "parse_pkts", "reachable", "copy_objects", "default_dir"]

HttpCall = Callable[[str, str, dict[str, str], bytes | None], Awaitable[tuple[int, bytes]]]
ZERO = b"0" * 40


def pkt(data: bytes | None) -> bytes:
    """One pkt-line (``None`` is a flush packet)."""
    if data is None:
        return b"0000"
    return f"{len(data) + 4:04x}".encode() + data


def parse_pkts(data: bytes) -> tuple[list[bytes | None], int]:
    """pkt-lines from the start of ``data`` until it ends or a line is not a pkt-line;
    returns the lines (``None`` for flush) and the offset where they stop."""
    out: list[bytes | None] = []
    i = 0
    while i + 4 <= len(data):
        try:
            n = int(data[i : i + 4], 16)
        except ValueError:
            break
        if n == 0:
            out.append(None)
            i += 4
            continue
        if n < 4 or i + n > len(data):
            break
        out.append(data[i + 4 : i + n])
        i += n
    return out, i


@dataclass
class Advert:
    refs: dict[str, bytes] = field(default_factory=dict)
    caps: set[str] = field(default_factory=set)
    head_target: str | None = None


def parse_advert(lines: list[bytes | None]) -> Advert:
    adv = Advert()
    first = True
    for raw in lines:
        if raw is None or raw.startswith(b"#"):
            continue
        line = raw.rstrip(b"\n")
        if first and b"\0" in line:
            line, caps = line.split(b"\0", 1)
            adv.caps = set(caps.decode().split())
            for c in adv.caps:
                if c.startswith("symref=HEAD:"):
                    adv.head_target = c.split(":", 1)[1]
        first = False
        sha, _, name = line.partition(b" ")
        if name.endswith(b"^{}") or name == b"capabilities^{}":
            continue
        adv.refs[name.decode()] = sha
    return adv


def reachable(repo: Repo, tips: list[bytes], have: set[bytes]) -> list[bytes]:
    """Every object reachable from ``tips`` that is not in ``have``."""
    out: list[bytes] = []
    seen: set[bytes] = set(have)
    stack = list(tips)
    while stack:
        sha = stack.pop()
        if sha in seen:
            continue
        check_time()
        seen.add(sha)
        obj = repo[sha]
        out.append(sha)
        if isinstance(obj, Commit):
            stack.append(obj.tree)
            stack.extend(obj.parents)
        elif isinstance(obj, Tree):
            stack.extend(e.sha for e in obj.iteritems() if e.mode != 0o160000)
        elif isinstance(obj, Tag):
            stack.append(obj.object[1])
    return out


def copy_objects(src: Repo, dst: Repo, tips: list[bytes]) -> int:
    n = 0
    for sha in reachable(src, tips, set()):
        if sha not in dst.store:
            dst.store.add_object(src[sha])
            n += 1
    return n


def add_pack(repo: Repo, data: bytes) -> int:
    """Store every object of a received pack (loose, as git does for small fetches)."""
    if not data:
        return 0
    pd = PackData.from_file(BytesIO(data), repo.store.object_format, len(data))
    n = 0
    try:
        pd.check()
        for obj in PackInflater.for_pack_data(pd, repo.store.get_raw):
            repo.store.add_object(obj)
            n += 1
    except GitError:
        raise
    except Exception as exc:
        raise GitError(f"the remote sent a bad pack: {exc}") from None
    finally:
        pd.close()
    return n


def make_pack(repo: Repo, shas: list[bytes]) -> bytes:
    buf = BytesIO()
    write_pack_objects(
        buf.write, [(repo[s], None) for s in shas], object_format=repo.store.object_format
    )
    return buf.getvalue()


def _demux(data: bytes) -> bytes:
    """The pack carried in a side-band-64k response (errors on band 3 raise)."""
    lines, _end = parse_pkts(data)
    pack = []
    for line in lines:
        if not line:
            continue
        band, payload = line[0], line[1:]
        if band == 1:
            pack.append(payload)
        elif band == 3:
            raise GitError("remote error: " + payload.decode("utf-8", "replace").strip())
    return b"".join(pack)


def _http_error(url: str, status: int) -> GitError:
    return GitError(f"unable to access '{url}/': The requested URL returned error: {status}")


class Remote:
    """A repository to fetch from or push to: ``http(s)://`` through the gateway, or a path."""

    def __init__(self, url: str, local: Repo, http: HttpCall) -> None:
        self.url = url.rstrip("/")
        self.local = local
        self.http = http
        self.is_http = url.startswith(("http://", "https://"))

    def _path_repo(self) -> Repo:
        path = self.url[7:] if self.url.startswith("file://") else self.url
        if not self.local.fs.isdir(path):
            raise GitError(f"repository '{path}' does not exist")
        try:
            return find_repo(self.local.fs, path)
        except GitError:
            raise GitError(f"'{path}' does not appear to be a git repository") from None

    async def advert(self, service: str = "git-upload-pack") -> Advert:
        if not self.is_http:
            src = self._path_repo()
            adv = Advert()
            head = src.head()
            if head:
                adv.refs["HEAD"] = head
            adv.head_target = src.head_target()
            for prefix in ("refs/heads/", "refs/tags/"):
                adv.refs.update(src.list_refs(prefix))
            return adv
        status, body = await self.http("GET", f"{self.url}/info/refs?service={service}", {}, None)
        if status == 404:
            raise GitError(f"repository '{self.url}/' not found")
        if status != 200:
            raise _http_error(self.url, status)
        lines, _ = parse_pkts(body)
        if not lines or lines[0] is None or not lines[0].startswith(b"# service="):
            raise GitError(f"{self.url}/info/refs not valid: is this a git repository?")
        return parse_advert(lines[1:])

    async def fetch(self, adv: Advert, wants: list[bytes]) -> int:
        """Bring the objects of ``wants`` into the local repository; returns how many."""
        wants = [w for w in dict.fromkeys(wants) if w not in self.local.store]
        if not wants:
            return 0
        if not self.is_http:
            return copy_objects(self._path_repo(), self.local, wants)
        caps = [
            c for c in ("side-band-64k", "ofs-delta", "thin-pack", "no-progress") if c in adv.caps
        ]
        body = [pkt(b"want " + wants[0] + b" " + " ".join(caps).encode() + b"\n")]
        body += [pkt(b"want " + w + b"\n") for w in wants[1:]]
        body.append(pkt(None))
        for sha in self.local.list_refs("refs/").values():
            if sha in self.local.store:
                body.append(pkt(b"have " + sha + b"\n"))
        body.append(pkt(b"done\n"))
        status, data = await self.http(
            "POST",
            f"{self.url}/git-upload-pack",
            {
                "Content-Type": "application/x-git-upload-pack-request",
                "Accept": "application/x-git-upload-pack-result",
            },
            b"".join(body),
        )
        if status != 200:
            raise _http_error(self.url, status)
        # ACK/NAK lines come first, then the pack: raw, or in side-band packets
        offset = 0
        while offset + 4 <= len(data):
            lines, _ = parse_pkts(data[offset : offset + 4 + int(data[offset : offset + 4], 16)])
            if lines and lines[0] is not None and lines[0].startswith((b"NAK", b"ACK")):
                offset += 4 + len(lines[0])
                continue
            break
        rest = data[offset:]
        pack = _demux(rest) if "side-band-64k" in caps else rest
        return add_pack(self.local, pack)

    async def push(self, updates: list[tuple[str, bytes, bytes]]) -> list[tuple[str, str]]:
        """Send ``(ref, old, new)`` updates; returns ``(ref, error or '')`` per ref."""
        if not self.is_http:
            dst = self._path_repo()
            copy_objects(self.local, dst, [n for _r, _o, n in updates if n != ZERO])
            out = []
            for ref, old, new in updates:
                cur = dst.resolve_ref(ref) or ZERO
                if cur != old:
                    out.append((ref, "fetch first"))
                    continue
                if new == ZERO:
                    dst.delete_ref(ref)
                else:
                    dst.set_ref(ref, new)
                out.append((ref, ""))
            return out
        adv = await self.advert("git-receive-pack")
        have = {s for s in adv.refs.values() if s in self.local.store}
        tips = [n for _r, _o, n in updates if n != ZERO]
        shas = reachable(self.local, tips, set(reachable(self.local, list(have), set())))
        caps = "report-status" + (" ofs-delta" if "ofs-delta" in adv.caps else "")
        body = []
        for k, (ref, old, new) in enumerate(updates):
            line = old + b" " + new + b" " + ref.encode()
            body.append(pkt(line + (b"\0" + caps.encode() if k == 0 else b"") + b"\n"))
        body.append(pkt(None))
        payload = b"".join(body) + (make_pack(self.local, shas) if tips else b"")
        status, data = await self.http(
            "POST",
            f"{self.url}/git-receive-pack",
            {
                "Content-Type": "application/x-git-receive-pack-request",
                "Accept": "application/x-git-receive-pack-result",
            },
            payload,
        )
        if status != 200:
            raise _http_error(self.url, status)
        reply, _ = parse_pkts(data)
        results = []
        for item in reply:
            if item is None:
                continue
            text = item.decode("utf-8", "replace").rstrip("\n")
            if text.startswith("ok "):
                results.append((text[3:], ""))
            elif text.startswith("ng "):
                ref, _, why = text[3:].partition(" ")
                results.append((ref, why))
            elif text.startswith("unpack ") and text != "unpack ok":
                raise GitError(f"remote unpack failed: {text[7:]}")
        return results


def default_dir(url: str) -> str:
    name = posixpath.basename(url.rstrip("/"))
    if name.endswith(".git"):
        name = name[:-4]
    return name or "repo"
