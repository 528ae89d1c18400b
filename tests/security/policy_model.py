"""A reference model of what an fs policy protects, and a runner that plays a sequence of
filesystem operations against a real VM and checks the model's two invariants after every
step:

* no denied content is ever read: the marker inside a file whose ``read`` is not allowed at
  its original path never appears in anything the VM prints or the API returns;
* no denied object ever changes: a file whose every mutation is denied at its original path
  keeps its path, content and mode.

The model is deliberately simple: it knows only the initial objects and the policy's
decision at their original paths, never how pocketos implements rename, links or copy-up.
Used by tests/security/test_policy_model.py (hypothesis) and ``python -m bench.fuzz_policy``.
"""

from __future__ import annotations

import random
import shutil
import stat as S
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec

from pocketos import VM, Policy

#: mount point -> kind; "/w" is a directory of the VM's own root filesystem
ROOTS = {
    "/w": "root",
    "/h": "host-rw",
    "/o": "host-overlay",
    "/m": "memory",
    "/f": "fsspec",
}
#: the initial files below each root (relative), each with its own marker
FILES = ("s/k1", "s/k2", "s/sub/k3", "t/k1", "k0")
#: names operations may use besides the initial ones
EXTRA = ("s", "s/sub", "t", "u", "u/k1", "s/new", "t/sub")
PATTERNS = (
    "{r}/s/**",
    "{r}/s/*",
    "{r}/s/k1",
    "{r}/**/k1",
    "{r}/s",
    "{r}/*/k2",
    "{r}/t/**",
    "{r}/**",
)
OPS = (
    None,
    ("read",),
    ("write",),
    ("read", "write"),
    ("rename",),
    ("rm", "truncate"),
    ("link",),
    ("chmod",),
    ("readdir",),
    ("symlink", "write"),
    ("truncate",),
)
MUTATIONS = ("write", "truncate", "chmod", "rm", "rename")
ACTIONS = (
    "mv",
    "ln",
    "cp",
    "symlink",
    "rm",
    "chmod",
    "truncate",
    "append",
    "read",
    "mkdir",
    "fork",
    "mvup",
    "api_read",
    "api_move",
)


@dataclass
class Case:
    rules: list[dict[str, Any]]
    default: str
    ops: list[tuple[str, ...]]

    def policy(self) -> dict[str, Any]:
        return {
            "fs": {"default": self.default, "rules": self.rules},
            "child_process": "allow",
            "env": "allow",
        }


def random_case(rng: random.Random, n_ops: int = 12) -> Case:
    # one mount gets most of the rules and operations, so they meet often
    focus = rng.choice(list(ROOTS))

    def pick_root() -> str:
        return focus if rng.random() < 0.8 else rng.choice(list(ROOTS))

    rules: list[dict[str, Any]] = []
    for _ in range(rng.randint(1, 4)):
        r = pick_root()
        rule: dict[str, Any] = {
            "mode": rng.choice(("deny", "deny", "deny", "ask", "allow")),
            "paths": [rng.choice(PATTERNS).format(r=r)],
        }
        ops = rng.choice(OPS) if rng.random() < 0.5 else rng.choice((("read",), ("write",), None))
        if ops is not None:
            rule["operations"] = list(ops)
        rules.append(rule)
    default = "allow" if rng.random() < 0.85 else "deny"
    if default == "deny":
        rules.insert(0, {"mode": "allow", "paths": ["/**"], "operations": ["stat", "readdir"]})
        rules.insert(0, {"mode": "allow", "paths": ["/tmp/**", "/dev/**", "/bin/**", "/usr/**"]})
    names = [*FILES, *EXTRA]
    ops: list[tuple[str, ...]] = []
    while len(ops) < n_ops:
        act = rng.choice(ACTIONS)
        root = pick_root()
        a = root + "/" + rng.choice(names)
        # mostly within one mount, where rename and ln work
        b = (root if rng.random() < 0.7 else rng.choice(list(ROOTS))) + "/" + rng.choice(names)
        ops.append((act, a, b))
        if act in ("mv", "mvup", "ln", "cp", "symlink", "api_move") and rng.random() < 0.8:
            # then use what now answers to the new name, as an attacker would
            ops.append((rng.choice(("read", "append", "truncate", "chmod", "api_read")), b, b))
    return Case(rules, default, ops)


@dataclass
class World:
    """The VMs of one run, the host directories behind them, and the model."""

    case: Case
    tmp: Path
    vms: list[VM] = field(default_factory=list)
    secret: dict[str, str] = field(default_factory=dict)  # marker -> original path
    frozen: dict[str, tuple[bytes, int]] = field(default_factory=dict)  # path -> (data, mode)
    fsspec_root: str = ""

    @property
    def vm(self) -> VM:
        return self.vms[-1]


def _marker(path: str) -> str:
    return "MARK" + path.replace("/", "_") + "_END"


def build(case: Case) -> World:
    tmp = Path(tempfile.mkdtemp(prefix="pocketos-model-"))
    world = World(case, tmp)
    mem = fsspec.filesystem("memory")
    froot = f"/model-{uuid.uuid4().hex}"
    mem.mkdir(froot)
    world.fsspec_root = froot
    with VM() as setup:
        for f in FILES:
            setup.write_file(f"/w/{f}", _marker(f"/w/{f}"), parents=True)
        base = setup.fork()
    for root, kind in ROOTS.items():
        if kind in ("host-rw", "host-overlay"):
            d = tmp / root.strip("/")
            for f in FILES:
                p = d / f
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(_marker(f"{root}/{f}"))
    pol = Policy(case.policy())
    vm = base.fork(policy=pol)
    base.close()
    vm.mount("/h", host=str(tmp / "h"), mode="rw")
    vm.mount("/o", host=str(tmp / "o"), mode="overlay")
    vm.mount("/m", memory=True)
    vm.mount("/f", fsspec=mem, root=froot)
    for root in ("/m", "/f"):
        # written before the policy can refuse it: through the unchecked VFS
        with _unchecked(vm):
            for f in FILES:
                vm.write_file(f"{root}/{f}", _marker(f"{root}/{f}"), parents=True)
    world.vms.append(vm)
    for root in ROOTS:
        for f in FILES:
            p = f"{root}/{f}"
            if pol.decide("fs", "read", p) != "allow":
                world.secret[_marker(p)] = p
            if all(pol.decide("fs", op, p) != "allow" for op in MUTATIONS):
                with _unchecked(vm):
                    world.frozen[p] = (vm.read_file(p), S.S_IMODE(vm.lstat(p).st_mode))
    return world


class _unchecked:
    """Read the VM's real state, bypassing the policy (the test's oracle)."""

    def __init__(self, vm: VM) -> None:
        self.vfs = vm.vfs

    def __enter__(self) -> None:
        self.saved = (self.vfs.checker, self.vfs.guard)
        self.vfs.checker = None
        self.vfs.guard = None

    def __exit__(self, *exc: object) -> None:
        self.vfs.checker, self.vfs.guard = self.saved


def close(world: World) -> None:
    for vm in reversed(world.vms):
        vm.close()
    shutil.rmtree(world.tmp, ignore_errors=True)
    mem = fsspec.filesystem("memory")
    if world.fsspec_root and mem.exists(world.fsspec_root):
        mem.rm(world.fsspec_root, recursive=True)


def _leaks(world: World, text: str, where: str) -> list[str]:
    return [f"{where}: content of {p} read" for m, p in world.secret.items() if m in text]


def step(world: World, op: tuple[str, ...]) -> list[str]:
    """Play one operation; return the invariant violations it caused (if any)."""
    act, a, b = op
    vm = world.vm
    out = ""
    scripts = {
        "mv": f"mv -f {a} {b}",
        "mvup": f"mv -f {a.rsplit('/', 1)[0]} {b}",
        "ln": f"ln {a} {b}",
        "cp": f"cp -r {a} {b}",
        "symlink": f"ln -s {a} {b}; cat {b}",
        "rm": f"rm -rf {a}",
        "chmod": f"chmod 600 {a}",
        "truncate": f"truncate -s 1 {a}",
        "append": f"echo X >> {a}",
        "read": f"cat {a}; cat {a}/* {a}/*/*; ls -R {a}",
        "mkdir": f"mkdir -p {a}",
    }
    if act == "fork":
        world.vms.append(vm.fork())
    elif act in ("api_read", "api_move"):
        try:
            if act == "api_read":
                out = repr(vm.read_file(a))
            else:
                vm.move(a, b)
        except (OSError, ValueError) as exc:
            out = str(exc)
    else:
        r = vm.exec(scripts[act], timeout=30)
        out = r.stdout + r.stderr
    return _leaks(world, out, f"{act} {a} {b}") + check(world)


def check(world: World) -> list[str]:
    bad: list[str] = []
    for vm in world.vms:
        with _unchecked(vm):
            for p, (data, mode) in world.frozen.items():
                try:
                    now = (vm.read_file(p), S.S_IMODE(vm.lstat(p).st_mode))
                except OSError as exc:
                    bad.append(f"protected {p} is gone ({exc.strerror})")
                    continue
                if now != (data, mode):
                    bad.append(f"protected {p} changed: {now!r} != {(data, mode)!r}")
    return bad


def sweep(world: World) -> list[str]:
    """After the sequence: try to read everything, everywhere."""
    r = world.vm.exec(
        "for d in /w /h /o /m /f /tmp; do find $d -exec cat {} + ; grep -r . $d; done", timeout=60
    )
    return _leaks(world, r.stdout + r.stderr, "final sweep")


def run_case(case: Case) -> list[str]:
    world = build(case)
    try:
        problems = check(world)
        for op in case.ops:
            problems += step(world, op)
            if problems:
                return [f"after {op}: {p}" for p in problems]
        return sweep(world)
    finally:
        close(world)
