"""A git repository stored in the VM's filesystem.

Every byte goes through the process's :class:`~pocketos.kernel.fs.view.FsView`, so the VM's
permission policy and audit apply to the repository like to any other file. The on-disk layout is
git's own (loose objects, packs, refs, packed-refs, index version 2, config), so a repository made
here opens with the real git and the other way round.
"""

from __future__ import annotations

import hashlib
import posixpath
import zlib
from collections.abc import Iterator
from io import BytesIO

from dulwich.config import ConfigFile, StackedConfig
from dulwich.index import ConflictedIndexEntry, IndexEntry, read_index_dict, write_index_dict
from dulwich.object_format import DEFAULT_OBJECT_FORMAT as SHA1
from dulwich.object_store import MemoryObjectStore
from dulwich.objects import Commit, ShaFile, Tree, hex_to_sha, object_class, sha_to_hex
from dulwich.pack import Pack, PackData, load_pack_index_file

from pocketos.kernel.fs.view import FsView

__all__ = ["GitError", "Repo", "VfsObjectStore", "find_repo", "init_repo", "ZERO"]

ZERO = b"0" * 40
Index = dict[bytes, IndexEntry | ConflictedIndexEntry]


class GitError(Exception):
    """A failure reported as git does: ``fatal: MESSAGE`` (or the text as given) and a status."""

    def __init__(self, message: str, status: int = 128, prefix: str = "fatal: ") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.prefix = prefix


class VfsObjectStore(MemoryObjectStore):
    """Loose objects and packs under ``<gitdir>/objects``, read and written through the VM.

    Objects fetched as a pack are stored loose (what git does below its unpack limit); packs
    written by another git are read in place.
    """

    def __init__(self, fs: FsView, objdir: str) -> None:
        super().__init__()
        self.fs = fs
        self.objdir = objdir
        self._packs: list[Pack] | None = None

    def _loose_path(self, hexsha: bytes) -> str:
        h = hexsha.decode("ascii")
        return f"{self.objdir}/{h[:2]}/{h[2:]}"

    @staticmethod
    def _hex(sha: bytes) -> bytes:
        return sha if len(sha) == 40 else sha_to_hex(sha)

    def _load_packs(self) -> list[Pack]:
        if self._packs is None:
            packs: list[Pack] = []
            pdir = self.objdir + "/pack"
            try:
                names = sorted(self.fs.listdir(pdir))
            except OSError:
                names = []
            for n in names:
                if not n.endswith(".pack") or n[:-5] + ".idx" not in names:
                    continue
                data = self.fs.read_bytes(f"{pdir}/{n}")
                idx = self.fs.read_bytes(f"{pdir}/{n[:-5]}.idx")
                pd = PackData(f"{pdir}/{n}", SHA1, file=BytesIO(data), size=len(data))
                pi = load_pack_index_file(f"{pdir}/{n[:-5]}.idx", BytesIO(idx), SHA1)
                packs.append(Pack.from_objects(pd, pi))
            self._packs = packs
        return self._packs

    def contains_loose(self, sha: bytes) -> bool:  # type: ignore[override]
        return self.fs.exists(self._loose_path(self._hex(sha)))

    def contains_packed(self, sha: bytes) -> bool:  # type: ignore[override]
        binsha = sha if len(sha) == 20 else hex_to_sha(sha)
        packs: list = self._load_packs()  # type: ignore[type-arg]
        return any(binsha in p for p in packs)

    def __contains__(self, sha: object) -> bool:
        if not isinstance(sha, bytes):
            return False
        return self.contains_loose(sha) or self.contains_packed(sha)

    def __iter__(self) -> Iterator[bytes]:  # type: ignore[override]
        seen: set[bytes] = set()
        try:
            dirs = sorted(self.fs.listdir(self.objdir))
        except OSError:
            dirs = []
        for d in dirs:
            if len(d) != 2:
                continue
            try:
                names = sorted(self.fs.listdir(f"{self.objdir}/{d}"))
            except OSError:
                continue
            for n in names:
                sha = (d + n).encode()
                if len(sha) == 40 and sha not in seen:
                    seen.add(sha)
                    yield sha
        for p in self._load_packs():
            for binsha in p.index.iter_sha():  # type: ignore[attr-defined]
                sha = sha_to_hex(binsha)
                if sha not in seen:
                    seen.add(sha)
                    yield sha

    def get_raw(self, name: bytes) -> tuple[int, bytes]:  # type: ignore[override]
        hexsha = self._hex(name)
        path = self._loose_path(hexsha)
        try:
            raw = zlib.decompress(self.fs.read_bytes(path))
        except FileNotFoundError:
            binsha = hex_to_sha(hexsha)
            for p in self._load_packs():
                if binsha in p:  # type: ignore[operator]
                    return p.get_raw(binsha)  # type: ignore[no-any-return]
            raise KeyError(hexsha) from None
        except zlib.error as exc:
            raise GitError(f"loose object {hexsha.decode()} (stored in {path}) is corrupt") from exc
        header, _, body = raw.partition(b"\0")
        kind = header.split(b" ", 1)[0]
        cls = object_class(kind)
        if cls is None:
            raise GitError(f"invalid object type in {path}")
        return cls.type_num, body

    def __getitem__(self, name: bytes) -> ShaFile:  # type: ignore[override]
        type_num, body = self.get_raw(name)
        return ShaFile.from_raw_string(type_num, body, sha=self._hex(name))

    def add_object(self, obj: ShaFile) -> None:
        path = self._loose_path(obj.id)
        if self.fs.exists(path):
            return
        parent = posixpath.dirname(path)
        if not self.fs.isdir(parent):
            self.fs.mkdir(parent, parents=True)
        self.fs.write_bytes(path, obj.as_legacy_object())


class Repo:
    """One repository: its git directory, its work tree and the process view used to reach
    them."""

    def __init__(self, fs: FsView, gitdir: str, worktree: str | None) -> None:
        self.fs = fs
        self.gitdir = gitdir
        self.worktree = worktree
        self.store = VfsObjectStore(fs, gitdir + "/objects")
        self._config: ConfigFile | None = None

    # --- plain files in the git directory ---------------------------------------------------
    def path(self, name: str) -> str:
        return f"{self.gitdir}/{name}"

    def read(self, name: str) -> bytes | None:
        try:
            return self.fs.read_bytes(self.path(name))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def write(self, name: str, data: bytes) -> None:
        p = self.path(name)
        parent = posixpath.dirname(p)
        if not self.fs.isdir(parent):
            self.fs.mkdir(parent, parents=True)
        self.fs.write_bytes(p, data)

    def remove(self, name: str) -> None:
        try:
            self.fs.unlink(self.path(name))
        except FileNotFoundError:
            pass

    # --- config ----------------------------------------------------------------------------
    def config(self) -> ConfigFile:
        if self._config is None:
            self._config = ConfigFile.from_file(BytesIO(self.read("config") or b""))
        return self._config

    def save_config(self) -> None:
        buf = BytesIO()
        self.config().write_to_file(buf)
        self.write("config", buf.getvalue())

    def config_stack(self, home: str | None) -> StackedConfig:
        backends: list[ConfigFile] = [self.config()]
        g = read_global_config(self.fs, home)
        if g is not None:
            backends.append(g)
        return StackedConfig(backends, writable=self.config())

    # --- refs ------------------------------------------------------------------------------
    def packed_refs(self) -> dict[bytes, bytes]:
        out: dict[bytes, bytes] = {}
        for line in (self.read("packed-refs") or b"").splitlines():
            if not line or line.startswith((b"#", b"^")):
                continue
            sha, _, name = line.partition(b" ")
            out[name] = sha
        return out

    def read_ref_raw(self, name: str) -> bytes | None:
        """The contents of a ref: a sha or ``ref: OTHER`` (no newline), or None."""
        data = self.read(name)
        if data is not None:
            return data.strip()
        return self.packed_refs().get(name.encode())

    def resolve_ref(self, name: str, depth: int = 0) -> bytes | None:
        raw = self.read_ref_raw(name)
        if raw is None:
            return None
        if raw.startswith(b"ref: "):
            if depth > 5:
                raise GitError(f"symbolic ref loop at {name}")
            return self.resolve_ref(raw[5:].decode(), depth + 1)
        return raw

    def set_ref(self, name: str, sha: bytes) -> None:
        self.write(name, sha + b"\n")

    def delete_ref(self, name: str) -> None:
        self.remove(name)
        packed = self.packed_refs()
        if name.encode() in packed:
            del packed[name.encode()]
            self.write_packed_refs(packed)

    def write_packed_refs(self, refs: dict[bytes, bytes]) -> None:
        lines = [b"# pack-refs with: peeled fully-peeled sorted \n"]
        lines += [sha + b" " + name + b"\n" for name, sha in sorted(refs.items())]
        self.write("packed-refs", b"".join(lines))

    def list_refs(self, prefix: str) -> dict[str, bytes]:
        """Every ref under ``prefix`` (e.g. ``refs/heads/``) -> sha, loose over packed."""
        out = {
            k.decode(): v for k, v in self.packed_refs().items() if k.decode().startswith(prefix)
        }
        top = self.path(prefix.rstrip("/"))
        for dirpath, _dirs, files in self.fs.walk(top):
            for f in files:
                full = posixpath.join(dirpath, f)
                name = full[len(self.gitdir) + 1 :]
                data = self.fs.read_bytes(full).strip()
                if len(data) == 40:
                    out[name] = data
        return dict(sorted(out.items()))

    def head_target(self) -> str | None:
        """The branch ref HEAD points at (``refs/heads/main``), or None when detached."""
        raw = self.read_ref_raw("HEAD")
        if raw is not None and raw.startswith(b"ref: "):
            return raw[5:].decode()
        return None

    def head(self) -> bytes | None:
        return self.resolve_ref("HEAD")

    def set_head(self, sha: bytes) -> None:
        """Move what HEAD points at (its branch, or HEAD itself when detached)."""
        target = self.head_target()
        self.set_ref(target or "HEAD", sha)

    # --- objects ---------------------------------------------------------------------------
    def __getitem__(self, sha: bytes) -> ShaFile:
        return self.store[sha]

    def commit(self, sha: bytes) -> Commit:
        obj = self.store[sha]
        if not isinstance(obj, Commit):
            raise GitError(f"{sha.decode()} is not a commit")
        return obj

    def tree(self, sha: bytes) -> Tree:
        obj = self.store[sha]
        if not isinstance(obj, Tree):
            raise GitError(f"{sha.decode()} is not a tree")
        return obj

    # --- index -----------------------------------------------------------------------------
    def index(self) -> Index:
        data = self.read("index")
        if not data:
            return {}
        return read_index_dict(BytesIO(data))

    def write_index(self, entries: Index) -> None:
        buf = BytesIO()
        write_index_dict(buf, dict(sorted(entries.items())))
        data = buf.getvalue()
        self.write("index", data + hashlib.sha1(data).digest())


def read_global_config(fs: FsView, home: str | None) -> ConfigFile | None:
    if not home:
        return None
    try:
        data = fs.read_bytes(f"{home}/.gitconfig")
    except OSError:
        return None
    return ConfigFile.from_file(BytesIO(data))


def find_repo(fs: FsView, start: str) -> Repo:
    """The repository containing ``start`` (like git: walk up until a ``.git`` is found)."""
    d = fs.abspath(start).rstrip("/") or "/"
    while True:
        dot = posixpath.join(d, ".git")
        if fs.isdir(dot) and fs.exists(dot + "/HEAD"):
            return Repo(fs, dot, d)
        if (
            fs.exists(posixpath.join(d, "HEAD"))
            and fs.isdir(posixpath.join(d, "objects"))
            and fs.isdir(posixpath.join(d, "refs"))
        ):
            return Repo(fs, d, None)
        if d == "/":
            break
        d = posixpath.dirname(d)
    raise GitError("not a git repository (or any of the parent directories): .git")


def init_repo(fs: FsView, path: str, branch: str, bare: bool = False) -> tuple[Repo, bool]:
    """Create (or reinitialise) a repository; returns it and whether it existed already."""
    top = fs.abspath(path).rstrip("/") or "/"
    gitdir = top if bare else posixpath.join(top, ".git")
    existed = fs.exists(gitdir + "/HEAD")
    for d in ("", "/objects/info", "/objects/pack", "/refs/heads", "/refs/tags", "/info"):
        if not fs.isdir(gitdir + d):
            fs.mkdir(gitdir + d, parents=True)
    repo = Repo(fs, gitdir, None if bare else top)
    if not existed:
        repo.write("HEAD", f"ref: refs/heads/{branch}\n".encode())
        cfg = (
            "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n"
            f"\tbare = {'true' if bare else 'false'}\n"
        )
        if not bare:
            cfg += "\tlogallrefupdates = true\n"
        repo.write("config", cfg.encode())
        repo.write(
            "description",
            b"Unnamed repository; edit this file 'description' to name the repository.\n",
        )
        repo.write("info/exclude", b"# git ls-files --others --exclude-from=.git/info/exclude\n")
    return repo, existed
