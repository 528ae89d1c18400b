"""Run a script in host bash and in a VM shell; compare stdout and exit status."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from tests.compat import HOST_ENV

HAVE_BASH = shutil.which("bash") is not None


def host_bash(script: str, files: dict[str, str] | None = None, stdin: str = ""
              ) -> tuple[int, str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        for rel, data in (files or {}).items():
            p = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as fh:
                fh.write(data)
        p = subprocess.run(["bash", "-c", script], cwd=tmp, input=stdin.encode(),
                           capture_output=True, env=HOST_ENV, timeout=20)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8",
                                                                                   "replace")


def vm_bash(vm: object, script: str, files: dict[str, str] | None = None, stdin: str = ""
            ) -> tuple[int, str, str]:
    vm.mkdir("/work", parents=True, exist_ok=True)  # type: ignore[attr-defined]
    for rel, data in (files or {}).items():
        vm.write_file("/work/" + rel, data, parents=True)  # type: ignore[attr-defined]
    r = vm.exec(script, cwd="/work", env=dict(HOST_ENV), stdin=stdin)  # type: ignore[attr-defined]
    return r.exit_code, r.stdout, r.stderr
