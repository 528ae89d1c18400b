"""Workspaces: open a 10,000-file / 100 MB workspace, commit a run that changed 10 files, and
the storage of 100 runs each changing 1% of the files — side by side with ``cp -r`` and
``tar`` of the same tree and with host ``git`` committing the same change.

``python -m bench.run --only workspaces`` (``--quick``: 1,000 files / 10 MB, fewer runs).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import Result


def _tree(root: Path, files: int, size: int, seed: int = 7) -> list[Path]:
    rnd = random.Random(seed)
    paths = []
    for i in range(files):
        d = root / f"d{i % 100:02d}" / f"s{(i // 100) % 10}"
        d.mkdir(parents=True, exist_ok=True)
        p = d / f"f{i:05d}.dat"
        p.write_bytes(rnd.randbytes(size))
        paths.append(p)
    return paths


def _du(path: Path) -> int:
    total = 0
    for dirpath, _dirs, names in os.walk(path):
        for n in names:
            try:
                total += os.lstat(os.path.join(dirpath, n)).st_size
            except FileNotFoundError:
                pass
    return total


def _sh(args: list[str], cwd: Path | None = None) -> None:
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def run(quick: bool = False) -> list[Result]:
    from pocketos import VM
    from pocketos.workspaces import WorkspaceStore

    files, size = (1000, 10_000) if quick else (10_000, 10_000)
    n_open, n_commit, n_runs = (10, 10, 20) if quick else (20, 30, 100)
    label = f"{files:,} files / {files * size // 1_000_000} MB"
    out: list[Result] = []
    work = Path(tempfile.mkdtemp(prefix="pocketos-bench-ws-"))
    try:
        src = work / "src"
        paths = _tree(src, files, size)
        rels = [p.relative_to(src).as_posix() for p in paths]
        store = WorkspaceStore(work / "store")
        t = time.perf_counter()
        store.create_base("tree", host_dir=src)
        base_time = time.perf_counter() - t
        out.append(
            Result(
                "workspaces",
                f"make a base from a host folder ({label})",
                "pocketos",
                "s",
                [base_time],
            )
        )
        store.create("w", base="tree")

        # --- open -----------------------------------------------------------------------------
        samples = []
        for _ in range(n_open):
            vm = VM()
            fresh = WorkspaceStore(store.url)  # cold: nothing cached in this store object
            t = time.perf_counter()
            fresh.open("w", vm, "/w")
            samples.append(time.perf_counter() - t)
            vm.close()
        out.append(Result("workspaces", f"open ({label})", "pocketos", "s", samples))
        samples = []
        for i in range(min(n_open, 5)):
            dst = work / f"cp{i}"
            t = time.perf_counter()
            _sh(["cp", "-r", str(src), str(dst)])
            samples.append(time.perf_counter() - t)
            shutil.rmtree(dst)
        out.append(Result("workspaces", f"open ({label})", "cp -r", "s", samples))
        archive = work / "tree.tar"
        _sh(["tar", "-cf", str(archive), "-C", str(src), "."])
        samples = []
        for i in range(min(n_open, 5)):
            dst = work / f"tar{i}"
            dst.mkdir()
            t = time.perf_counter()
            _sh(["tar", "-xf", str(archive), "-C", str(dst)])
            samples.append(time.perf_counter() - t)
            shutil.rmtree(dst)
        out.append(Result("workspaces", f"open ({label})", "tar -x", "s", samples))
        archive.unlink()

        # --- commit a run that changed 10 files ---------------------------------------------
        rnd = random.Random(11)
        for fsync in (True, False):
            st = store if fsync else WorkspaceStore(store.url, fsync=False)
            vm = VM()
            co = st.open("w", vm, "/w")
            samples = []
            for _ in range(n_commit):
                for rel in rnd.sample(rels, 10):
                    vm.write_file("/w/" + rel, rnd.randbytes(size))
                t = time.perf_counter()
                co.commit("ten files")
                samples.append(time.perf_counter() - t)
            vm.close()
            system = "pocketos" if fsync else "pocketos, fsync=False"
            out.append(
                Result(
                    "workspaces",
                    "commit a run that changed 10 files",
                    system,
                    "s",
                    samples,
                    note=label,
                )
            )
        repo = work / "repo"
        shutil.copytree(src, repo)
        env = dict(
            os.environ,
            GIT_AUTHOR_NAME="b",
            GIT_AUTHOR_EMAIL="b@x",
            GIT_COMMITTER_NAME="b",
            GIT_COMMITTER_EMAIL="b@x",
        )
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
        subprocess.run(["git", "commit", "-q", "-m", "base"], cwd=repo, check=True, env=env)
        samples = []
        for _ in range(n_commit):
            for rel in rnd.sample(rels, 10):
                (repo / rel).write_bytes(rnd.randbytes(size))
            t = time.perf_counter()
            subprocess.run(
                ["git", "commit", "-q", "-a", "-m", "ten files"], cwd=repo, check=True, env=env
            )
            samples.append(time.perf_counter() - t)
        out.append(
            Result(
                "workspaces",
                "commit a run that changed 10 files",
                "git commit -a",
                "s",
                samples,
                note=label,
            )
        )
        samples = []
        for i in range(min(n_commit, 5)):
            t = time.perf_counter()
            _sh(["tar", "-cf", str(work / f"run{i}.tar"), "-C", str(src), "."])
            samples.append(time.perf_counter() - t)
            (work / f"run{i}.tar").unlink()
        out.append(
            Result(
                "workspaces",
                "commit a run that changed 10 files",
                "tar -c (whole tree)",
                "s",
                samples,
                note=label,
            )
        )

        # --- storage of runs that each change 1% of the files ------------------------------
        k = files // 100
        store.create("growth", base="tree")
        before = _du(work / "store")
        vm = VM()
        co = store.open("growth", vm, "/w")
        for _ in range(n_runs):
            for rel in rnd.sample(rels, k):
                vm.write_file("/w/" + rel, rnd.randbytes(size))
            co.commit("1%")
        vm.close()
        per_run = (_du(work / "store") - before) / n_runs
        # opening after those runs reads a chain of spliced manifest roots
        samples = []
        for _ in range(n_open):
            vm = VM()
            fresh = WorkspaceStore(store.url)
            t = time.perf_counter()
            fresh.open("growth", vm, "/w")
            samples.append(time.perf_counter() - t)
            vm.close()
        out.append(
            Result("workspaces", f"open after {n_runs} runs ({label})", "pocketos", "s", samples)
        )
        tree_bytes = files * size
        note = f"{n_runs} runs, 1% of {label} each; {100 * per_run / tree_bytes:.2f}% of the tree"
        out.append(
            Result("workspaces", "storage per run", "pocketos", "bytes", value=per_run, note=note)
        )
        before = _du(repo / ".git")
        for _ in range(n_runs):
            for rel in rnd.sample(rels, k):
                (repo / rel).write_bytes(rnd.randbytes(size))
            subprocess.run(["git", "commit", "-q", "-a", "-m", "1%"], cwd=repo, check=True, env=env)
        git_per_run = (_du(repo / ".git") - before) / n_runs
        out.append(
            Result(
                "workspaces",
                "storage per run",
                "git (loose objects)",
                "bytes",
                value=git_per_run,
                note=note,
            )
        )
        out.append(
            Result(
                "workspaces",
                "storage per run",
                "tar of the tree",
                "bytes",
                value=float(tree_bytes),
                note=note,
            )
        )
        out.extend(_depth(work, quick))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def _depth(work: Path, quick: bool) -> list[Result]:
    """Lookups after many committed runs (a durable VM) and after many forks, against a
    fresh VM holding the same files."""
    from pocketos import VM
    from pocketos.workspaces import WorkspaceStore

    k = 100 if quick else 1000
    n = 20 if quick else 50
    big = b"".join(b"line %d\n" % i for i in range(100_000))
    scripts = {
        "ls /usr/bin | wc -l": "ls /usr/bin | wc -l",
        "cat big | wc -l": "cat /tmp/big | wc -l",
    }
    out: list[Result] = []

    def measure(vm: VM, base: VM, note: str) -> None:
        # interleaved, so a change in the machine's load hits both alike
        for name, script in scripts.items():
            a: list[float] = []
            b: list[float] = []
            for _ in range(2):
                vm.exec(script)
                base.exec(script)
            for _ in range(n):
                t = time.perf_counter()
                vm.exec(script)
                a.append(time.perf_counter() - t)
                t = time.perf_counter()
                base.exec(script)
                b.append(time.perf_counter() - t)
            out.append(Result("workspaces", f"{name}, {note}", "pocketos", "s", a))
            out.append(Result("workspaces", f"{name}, {note}", "fresh VM", "s", b))

    fresh = VM()
    fresh.write_file("/tmp/big", big)
    store = WorkspaceStore(work / "durable", fsync=False)
    vm = VM.open("deep", store=store, autosave=False)
    vm.write_file("/tmp/big", big)
    vm.save("big")
    for i in range(k):
        vm.write_file(f"/home/user/run{i % 50}", f"{i}\n")
        vm.save(f"run {i}")
    vm.close()
    reopened = VM.open("deep", store=WorkspaceStore(work / "durable", fsync=False), autosave=False)
    note = f"after {k} committed runs"
    measure(reopened, fresh, note)
    reopened.close()
    parent = VM()
    parent.write_file("/tmp/big", big)
    children = []
    for _ in range(k):
        children.append(parent.fork())
    note = f"in the parent after {k} forks"
    measure(parent, fresh, note)
    for c in children:
        c.close()
    parent.close()
    # a write between every fork: each fork seals a layer; past a few they are merged
    parent = VM()
    parent.write_file("/tmp/big", big)
    children = []
    for i in range(k):
        parent.write_file(f"/home/user/f{i}", f"{i}\n")
        children.append(parent.fork())
    measure(parent, fresh, f"in the parent after {k} forks with a write between each")
    measure(children[-1], fresh, f"in the last child of {k} forks with a write between each")
    for c in children:
        c.close()
    parent.close()
    fresh.close()
    return out
