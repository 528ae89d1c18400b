"""Which files a recursive grep or rg searches: include/exclude globs, rg types and hidden
files, and the sorted walk below a directory."""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Iterator

from pocketos.commands._grep.config import Config
from pocketos.kernel.process import Context

RG_TYPES: dict[str, list[str]] = {
    "py": ["*.py", "*.pyi"],
    "python": ["*.py", "*.pyi"],
    "js": ["*.js", "*.jsx", "*.mjs", "*.cjs"],
    "ts": ["*.ts", "*.tsx", "*.mts", "*.cts"],
    "rust": ["*.rs"],
    "rs": ["*.rs"],
    "go": ["*.go"],
    "c": ["*.c", "*.h"],
    "cpp": ["*.cpp", "*.cc", "*.cxx", "*.hpp", "*.hh", "*.hxx", "*.h"],
    "java": ["*.java"],
    "kotlin": ["*.kt", "*.kts"],
    "rb": ["*.rb"],
    "ruby": ["*.rb"],
    "php": ["*.php"],
    "sh": ["*.sh", "*.bash", "*.zsh"],
    "md": ["*.md", "*.markdown"],
    "markdown": ["*.md", "*.markdown"],
    "json": ["*.json", "*.jsonl"],
    "yaml": ["*.yaml", "*.yml"],
    "toml": ["*.toml"],
    "html": ["*.html", "*.htm"],
    "css": ["*.css", "*.scss", "*.sass", "*.less"],
    "txt": ["*.txt"],
    "sql": ["*.sql"],
    "xml": ["*.xml"],
    "csv": ["*.csv"],
    "swift": ["*.swift"],
    "cs": ["*.cs"],
    "lua": ["*.lua"],
    "make": ["Makefile", "makefile", "GNUmakefile", "*.mk"],
    "docker": ["Dockerfile", "*.dockerfile"],
    "ini": ["*.ini", "*.cfg"],
}


def _glob_match(name: str, pats: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in pats)


def file_wanted(cfg: Config, path: str, command_line: bool) -> bool:
    base = posixpath.basename(path.rstrip("/")) or path
    if cfg.rg:
        return _rg_file_wanted(cfg, path, command_line)
    if cfg.excludes and (
        _glob_match(base, cfg.excludes) or (command_line and _glob_match(path, cfg.excludes))
    ):
        return False
    return not (cfg.includes and not _glob_match(base, cfg.includes))


def _rg_file_wanted(cfg: Config, path: str, command_line: bool) -> bool:
    if command_line:
        return True
    base = posixpath.basename(path)
    rel = path[2:] if path.startswith("./") else path
    if cfg.types:
        pats = [g for t in cfg.types for g in RG_TYPES.get(t, [])]
        if not _glob_match(base, pats):
            return False
    if cfg.types_not:
        pats = [g for t in cfg.types_not for g in RG_TYPES.get(t, [])]
        if _glob_match(base, pats):
            return False
    if cfg.globs:
        incl = [g for g in cfg.globs if not g.startswith("!")]
        excl = [g[1:] for g in cfg.globs if g.startswith("!")]

        def hit(pats: list[str]) -> bool:
            for g in pats:
                g2 = g[3:] if g.startswith("**/") else g
                if "/" in g2:
                    if fnmatch.fnmatchcase(rel, g2) or fnmatch.fnmatchcase(rel, g):
                        return True
                elif fnmatch.fnmatchcase(base, g2):
                    return True
            return False

        if excl and hit(excl):
            return False
        if incl and not hit(incl):
            return False
    return True


def dir_wanted(cfg: Config, path: str) -> bool:
    base = posixpath.basename(path.rstrip("/"))
    if cfg.rg:
        if not cfg.hidden and base.startswith(".") and base not in (".", ".."):
            return False
        for g in cfg.globs:
            if g.startswith("!") and fnmatch.fnmatchcase(base, g[1:].rstrip("/")):
                return False
        return True
    return not (
        cfg.exclude_dirs and base not in (".", "..") and _glob_match(base, cfg.exclude_dirs)
    )


def walk_files(
    ctx: Context, cfg: Config, top: str, seen: set[tuple[int, int]] | None = None
) -> Iterator[tuple[str, OSError | None]]:
    """Files under directory ``top`` in sorted order (errors are yielded as (path, exc)).
    ``seen`` holds the (device, inode) of the directories being walked, to stop loops."""
    if seen is None:
        seen = set()
    try:
        st_top = ctx.fs.stat(top)
        key = (st_top.st_dev, st_top.st_ino)
        if key in seen:
            yield top, OSError(40, "warning: recursive directory loop", top)
            return
        seen = seen | {key}
        entries = sorted(ctx.fs.lstat_entries(top))
    except OSError as exc:
        yield top, exc
        return
    for nm, listed in entries:
        if cfg.rg and not cfg.hidden and nm.startswith("."):
            continue
        path = nm if top == "\0" else (top + nm if top.endswith("/") else f"{top}/{nm}")
        if isinstance(listed, OSError):
            yield path, listed
            continue
        try:
            lst = ctx.fs.lstat(path) if listed is None else listed
        except OSError as exc:
            yield path, exc
            continue
        st = lst
        if lst.is_symlink():
            if not cfg.deref:
                continue
            try:
                st = ctx.fs.stat(path)
            except OSError as exc:
                yield path, exc
                continue
        if st.is_dir():
            if dir_wanted(cfg, path):
                yield from walk_files(ctx, cfg, path, seen)
        elif st.is_file() and file_wanted(cfg, path, False):
            yield path, None


def display_path(path: str, implicit_dot: bool) -> str:
    if implicit_dot and path.startswith("./"):
        return path[2:]
    return path
