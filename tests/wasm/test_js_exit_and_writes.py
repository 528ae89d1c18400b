"""node: process.exit() ends the program at once (no catch, finally or promise can keep it
going), and fs.writeFileSync/appendFileSync throw when the VM refuses the write."""

from __future__ import annotations

import pytest

from pocketos import VM
from tests.wasm.conftest import need_js

need_js()


@pytest.mark.parametrize(
    ("code", "status", "out"),
    [
        ("try { process.exit(2) } catch (e) {} console.log('carried on')", 2, ""),
        ("try { process.exit(4) } finally { console.log('finally') }", 4, ""),
        ("async function f() { await null; process.exit(3) } f()", 3, ""),
        ("new Promise(() => process.exit(7)).catch(() => console.log('caught'))", 7, ""),
        ("setTimeout(() => { try { process.exit(6) } catch {} console.log('no') }, 0)", 6, ""),
        ("console.log('out'); process.exitCode = 9; process.exit()", 9, "out\n"),
        ("process.exitCode = 5; console.log('x')", 5, "x\n"),
    ],
)
def test_process_exit_cannot_be_caught(code: str, status: int, out: str) -> None:
    with VM() as vm:
        vm.write_file("/tmp/t.js", code)
        r = vm.run(["node", "/tmp/t.js"])
        assert (r.exit_code, r.stdout, r.stderr) == (status, out, "")


WRITES = """
const fs = require('fs');
for (const [fn, p, d] of [
  ['writeFileSync', '/ro/x', 'a'], ['appendFileSync', '/ro/x', 'a'],
  ['writeFileSync', '/ro/new', 'a'], ['writeFileSync', '/rofs/x', 'a'],
  ['writeFileSync', '/dev/full', 'x'], ['appendFileSync', '/dev/full', new Uint8Array([1])],
  ['writeFileSync', '/tmp/big', 'a'.repeat(100000)], ['writeFileSync', '/tmp/big2', new Uint8Array(100000)],
  ['writeFileSync', '/tmp/ok', 'fine \\u00e9\\u{1F600}'], ['appendFileSync', '/tmp/ok', new Uint8Array([65, 66])],
]) {
  try { fs[fn](p, d); console.log('ok', p); } catch (e) { console.log(e.code, p); }
}
"""


def test_refused_writes_throw() -> None:
    pol = {
        "fs": {
            "default": "allow",
            "rules": [{"mode": "deny", "operations": ["write"], "paths": ["/ro/**"]}],
        },
        "child_process": "allow",
    }
    with VM(limits={"max_fs_bytes": 64 * 1024}) as setup:
        setup.write_file("/ro/x", b"orig", parents=True)
        with setup.fork(policy=pol) as vm:
            vm.mount("/rofs", memory=True, readonly=True)
            vm.write_file("/tmp/t.js", WRITES)
            r = vm.run(["node", "/tmp/t.js"])
            assert (r.exit_code, r.stderr) == (0, "")
            assert r.stdout.splitlines() == [
                "EACCES /ro/x",
                "EACCES /ro/x",
                "EACCES /ro/new",
                "EROFS /rofs/x",
                "ENOSPC /dev/full",
                "ENOSPC /dev/full",
                "EIO /tmp/big",
                "ENOSPC /tmp/big2",
                "ok /tmp/ok",
                "ok /tmp/ok",
            ]
            assert vm.read_file("/ro/x") == b"orig"
            assert vm.read_file("/tmp/ok") == "fine é\U0001f600AB".encode()
