"""PythonSession: one interpreter across turns, over the VM filesystem."""

from __future__ import annotations

import asyncio

import pytest

from tests.wasm.conftest import DENY_SECRET, need_python

need_python()


def test_turns_share_state():
    from pocketos.kernel.fs.view import FsView
    from pocketos.vm import AsyncVM
    from pocketos.wasm import PyResult, PythonSession

    async def main() -> list[PyResult]:
        vm = AsyncVM()
        vm.kernel.vfs.mkdir("/work", parents=True, exist_ok=True)
        vm.kernel.vfs.write_file("/work/d.txt", b"data\n")
        out = []
        async with PythonSession(FsView(vm.kernel.vfs, "/work")) as s:
            for code in (
                "x = 41",
                "x + 1",
                "print('hi'); open('d.txt').read()",
                "1/0",
                "open('o.txt', 'w').write('z')",
                "None",
                "import os; os.getcwd()",
            ):
                out.append(await s.run(code))
        assert vm.kernel.vfs.read_file("/work/o.txt") == b"z"
        return out

    r = asyncio.run(main())
    assert [(x.stdout, x.value, x.error) for x in r] == [
        ("", None, None),
        ("", "42", None),
        ("hi\n", "'data\\n'", None),
        ("", None, "ZeroDivisionError: division by zero"),
        ("", "1", None),
        ("", None, None),
        ("", "'/work'", None),
    ]
    assert r[3].stderr.splitlines()[-1] == "ZeroDivisionError: division by zero"
    assert r[3].stderr.splitlines()[1] == '  File "<cell-4>", line 1, in <module>'


def test_session_policy_applies():
    from pocketos.vm import AsyncVM
    from pocketos.wasm import PythonSession

    async def main() -> str | None:
        vm = AsyncVM(policy=DENY_SECRET)
        s = PythonSession.for_vm(vm, cwd="/")
        try:
            r = await s.run(
                "import os\ntry:\n    os.listdir('/secret')\nexcept PermissionError:\n"
                "    print('denied')"
            )
            return r.stdout
        finally:
            await s.close()

    assert asyncio.run(main()) == "denied\n"


def test_closed_session_refuses():
    from pocketos.vm import AsyncVM
    from pocketos.wasm import PythonSession
    from pocketos.wasm.session import SessionClosed

    async def main() -> None:
        s = PythonSession.for_vm(AsyncVM())
        await s.run("1")
        await s.close()
        with pytest.raises(SessionClosed):
            await s.run("2")

    asyncio.run(main())
