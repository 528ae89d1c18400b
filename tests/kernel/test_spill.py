"""Large files of the memory backend live in unnamed host files (``kernel/fs/spill.py``): the
bytes, limits, snapshots, forks and worker transfers must be exactly those of a file kept in
memory. Each test compares against a plain ``bytearray`` model of the file."""

from __future__ import annotations

import copy
import errno
import os
import pickle
import random
import subprocess
import sys

import pytest

from pocketos import VM
from pocketos.isolation import state
from pocketos.kernel.fs import spill
from pocketos.kernel.fs.memory import MemoryBackend
from pocketos.kernel.fs.spill import SpillFile

MiB = 1 << 20

#: where the temp directory holds no unnamed files, or under a memory limit, files stay in memory
NO_HOST_FILES = "large VM files stay in memory here (no O_TMPFILE in the temp dir, or RLIMIT_DATA)"
pytestmark = pytest.mark.skipif(not spill.available(), reason=NO_HOST_FILES)


@pytest.fixture(autouse=True)
def _small_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spill, "THRESHOLD", 1 * MiB)


def _host_file(fs: MemoryBackend, path: str) -> SpillFile:
    node = fs.lookup(path)
    assert node is not None and isinstance(node.data, SpillFile)
    return node.data


def _spilled(fs: MemoryBackend, path: str) -> bool:
    node = fs.lookup(path)
    assert node is not None
    return isinstance(node.data, SpillFile)


def test_random_writes_truncates_and_reads_match_a_bytearray_model() -> None:
    rng = random.Random(13)
    fs = MemoryBackend()
    fs.create("/f")
    model = bytearray()
    for step in range(300):
        what = rng.random()
        if what < 0.6:
            off = rng.randrange(0, len(model) + 2 * MiB)
            data = rng.randbytes(rng.randrange(1, 300_000))
            assert fs.write("/f", data, off) == len(data)
            if off > len(model):
                model += bytes(off - len(model))
            model[off : off + len(data)] = data
        elif what < 0.7:
            data = rng.randbytes(rng.randrange(1, 300_000))
            fs.write("/f", data)  # append
            model += data
        elif what < 0.8:
            size = rng.randrange(0, len(model) + MiB + 1)
            fs.truncate("/f", size)
            if size < len(model):
                del model[size:]
            else:
                model += bytes(size - len(model))
        else:
            off = rng.randrange(0, len(model) + 10)
            size = rng.randrange(-1, 2 * MiB)
            want = bytes(model[off:] if size < 0 else model[off : off + size])
            assert fs.read("/f", off, size) == want, step
            view = fs.read_view("/f", off, size)
            assert bytes(view) == want
            if isinstance(view, memoryview):
                view.release()
        assert fs.lstat("/f").st_size == len(model)
        assert fs.usage()[0] == len(model)
    assert fs.read("/f") == bytes(model)
    assert _spilled(fs, "/f")


def test_a_file_moves_to_the_host_at_the_threshold_and_keeps_its_bytes() -> None:
    fs = MemoryBackend()
    fs.create("/f")
    head = os.urandom(MiB - 10)
    fs.write("/f", head)
    assert not _spilled(fs, "/f")
    fs.write("/f", b"0123456789abcdef")
    assert _spilled(fs, "/f")
    assert fs.read("/f") == head + b"0123456789abcdef"
    # overwriting in the middle, and a write past the end leaves a hole of zeros
    fs.write("/f", b"XYZ", 500_000)
    fs.write("/f", b"end", 3 * MiB)
    want = bytearray(head + b"0123456789abcdef")
    want[500_000:500_003] = b"XYZ"
    want += bytes(3 * MiB - len(want)) + b"end"
    assert fs.read("/f") == bytes(want)
    # truncating shrinks the host file; O_TRUNC (create) gives an empty file in memory
    fs.truncate("/f", 10)
    assert fs.read("/f") == bytes(want[:10])
    fs.create("/f", truncate=True)
    assert fs.read("/f") == b"" and fs.usage()[0] == 0


def test_a_truncate_up_is_a_hole_in_the_host_file() -> None:
    fs = MemoryBackend()
    fs.create("/f")
    fs.write("/f", b"abc")
    fs.truncate("/f", 64 * MiB)
    assert _spilled(fs, "/f")
    assert fs.read("/f", 0, 5) == b"abc\0\0"
    assert fs.read("/f", 64 * MiB - 3) == b"\0\0\0"
    # a hole: the host file holds (almost) no blocks for the 64 MiB
    assert os.fstat(_host_file(fs, "/f").fd).st_blocks * 512 < MiB
    assert fs.usage()[0] == 64 * MiB


def test_limits_apply_to_spilled_files() -> None:
    fs = MemoryBackend(max_file_size=3 * MiB, max_bytes=4 * MiB + MiB // 2)
    fs.create("/a")
    fs.write("/a", bytes(2 * MiB))
    assert _spilled(fs, "/a")
    with pytest.raises(OSError) as e:
        fs.write("/a", b"x", 3 * MiB)
    assert e.value.errno == errno.EFBIG
    with pytest.raises(OSError) as e:
        fs.truncate("/a", 3 * MiB + 1)
    assert e.value.errno == errno.EFBIG
    fs.create("/b")
    fs.write("/b", bytes(2 * MiB))
    with pytest.raises(OSError) as e:
        fs.write("/b", bytes(MiB), 2 * MiB)
    assert e.value.errno == errno.ENOSPC
    # nothing of the refused writes was stored
    assert fs.lstat("/a").st_size == 2 * MiB and fs.lstat("/b").st_size == 2 * MiB
    assert fs.usage()[0] == 4 * MiB
    fs.unlink("/a")
    assert fs.usage()[0] == 2 * MiB
    fs.write("/b", bytes(MiB), 2 * MiB)  # the room /a left
    assert fs.lstat("/b").st_size == 3 * MiB


def test_a_dropped_file_closes_its_host_file() -> None:
    fs = MemoryBackend()
    before = spill._open_files
    fs.create("/f")
    fs.write("/f", bytes(2 * MiB))
    fd = _host_file(fs, "/f").fd
    assert spill._open_files == before + 1
    fs.unlink("/f")
    assert spill._open_files == before
    with pytest.raises(OSError) as e:
        os.fstat(fd)
    assert e.value.errno == errno.EBADF


def test_past_max_files_without_room_or_threshold_files_stay_in_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fs = MemoryBackend()
    monkeypatch.setattr(spill, "MAX_FILES", spill._open_files)
    data = os.urandom(2 * MiB)
    fs.create("/a")
    fs.write("/a", data)
    assert not _spilled(fs, "/a") and fs.read("/a") == data
    monkeypatch.setattr(spill, "MAX_FILES", 256)
    monkeypatch.setattr(spill, "_HEADROOM", 1 << 62)  # no temp directory has this free
    fs.create("/c")
    fs.write("/c", data)
    assert not _spilled(fs, "/c") and fs.read("/c") == data
    monkeypatch.setattr(spill, "_HEADROOM", 0)
    monkeypatch.setattr(spill, "THRESHOLD", None)
    fs.create("/b")
    fs.write("/b", data)
    fs.truncate("/b", 8 * MiB)
    assert not _spilled(fs, "/b") and fs.read("/b") == data + bytes(6 * MiB)


def _in_a_child(code: str) -> None:
    """Runs ``code`` in a new interpreter (its limits stay there); it must print ok."""
    r = subprocess.run(
        [sys.executable, "-c", code + "print('ok')\n"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok\n"


def test_a_memory_limited_process_keeps_files_in_memory() -> None:
    # a VM worker runs under RLIMIT_DATA; the page cache is not charged to it
    code = (
        "import resource\n"
        "from pocketos.kernel.fs import spill\n"
        "assert spill.spill(b'x') is not None\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_DATA)\n"
        "resource.setrlimit(resource.RLIMIT_DATA, (8 << 30, hard))\n"
        "assert spill.spill(b'x') is None\n"
    )
    _in_a_child(code)


def test_bytes_the_host_refuses_move_the_file_back_into_memory() -> None:
    # the host file cannot take a write (here: RLIMIT_FSIZE, in a child; or a full disk):
    # the file moves back into memory and the write is made there, and for a while no new
    # file moves to the host
    code = (
        "import resource, signal\n"
        "from pocketos.kernel.fs import spill\n"
        "from pocketos.kernel.fs.memory import MemoryBackend\n"
        "from pocketos.kernel.fs.spill import SpillFile\n"
        "spill.THRESHOLD = 1 << 20\n"
        "fs = MemoryBackend()\n"
        "fs.create('/f')\n"
        "fs.write('/f', b'a' * (2 << 20))\n"
        "assert isinstance(fs.lookup('/f').data, SpillFile)\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (3 << 20, resource.RLIM_INFINITY))\n"
        "assert fs.write('/f', b'b' * (2 << 20), 1 << 20) == 2 << 20\n"  # to 3 MiB: fits
        "assert isinstance(fs.lookup('/f').data, SpillFile)\n"
        "assert fs.write('/f', b'd' * (2 << 20), 2 << 20) == 2 << 20\n"
        "assert isinstance(fs.lookup('/f').data, bytearray)\n"
        "assert fs.read('/f') == b'a' * (1 << 20) + b'b' * (1 << 20) + b'd' * (2 << 20)\n"
        "assert fs.usage()[0] == 4 << 20\n"
        "fs.create('/g')\n"
        "fs.write('/g', b'c' * (2 << 20))\n"
        "assert isinstance(fs.lookup('/g').data, bytearray)\n"
        "assert spill.spill(b'x') is None\n"
    )
    _in_a_child(code)


def test_state_transfer_round_trips_spilled_files() -> None:
    fs = MemoryBackend()
    fs.mkdir("/d")
    big = os.urandom(3 * MiB)
    fs.create("/d/big")
    fs.write("/d/big", big)
    fs.create("/d/small")
    fs.write("/d/small", b"hi")
    assert _spilled(fs, "/d/big")
    back = state.restore(state.capture(fs))
    assert back.read("/d/big") == big and back.read("/d/small") == b"hi"
    assert _spilled(back, "/d/big") and not _spilled(back, "/d/small")
    assert back.usage() == fs.usage()


def test_snapshot_and_fork_of_a_large_file() -> None:
    big = os.urandom(3 * MiB)
    with VM() as vm:
        vm.write_file("/home/user/big", big)
        snap = vm.snapshot("/home/user")
        with vm.fork() as child:
            # the child changes its copy in the middle; the parent and the snapshot keep theirs
            r = child.exec(
                "printf XYZ | dd of=/home/user/big bs=1 seek=1048576 conv=notrunc 2>/dev/null"
            )
            assert r.exit_code == 0, r.stderr
            want = bytearray(big)
            want[MiB : MiB + 3] = b"XYZ"
            assert child.read_file("/home/user/big") == bytes(want)
            assert vm.read_file("/home/user/big") == big
            vm.write_file(
                "/home/user/big",
                b"parent",
            )
            assert child.read_file("/home/user/big") == bytes(want)
        restored = snap.to_backend()
        assert restored.read("/home/user/big") == big
        assert _spilled(restored, "/home/user/big")


def test_a_worker_vm_keeps_large_files_whole() -> None:
    big = os.urandom(3 * MiB)
    with VM(isolation="process") as vm:
        vm.write_file("/home/user/big", big)
        r = vm.exec(
            "cat /home/user/big /home/user/big > /home/user/twice; wc -c < /home/user/twice"
        )
        assert r.exit_code == 0, r.stderr
        assert r.stdout.strip() == str(6 * MiB)
        assert vm.read_file("/home/user/twice") == big + big


def test_a_pickle_or_deepcopy_of_a_file_in_a_host_file_holds_its_bytes() -> None:
    fs = MemoryBackend()
    fs.create("/f")
    data = os.urandom(2 * MiB)
    fs.write("/f", data)
    f = _host_file(fs, "/f")
    for other in (pickle.loads(pickle.dumps(f)), copy.deepcopy(f)):
        assert isinstance(other, bytearray) and other == data


def test_copy_up_of_a_file_in_a_host_file_is_a_host_copy_under_the_upper_limits() -> None:
    from pocketos.kernel.fs.overlay import OverlayBackend

    big = os.urandom(3 * MiB)
    lower = MemoryBackend()
    lower.create("/big")
    lower.write("/big", big)
    lower.freeze()
    ov = OverlayBackend([lower])
    real_read = lower.read

    def no_read(path: str, offset: int = 0, size: int = -1) -> bytes:
        raise AssertionError("the copy-up read the file into memory")

    lower.read = no_read  # type: ignore[method-assign]
    ov.write("/big", b"XYZ", MiB)
    lower.read = real_read  # type: ignore[method-assign]
    want = bytearray(big)
    want[MiB : MiB + 3] = b"XYZ"
    assert ov.read("/big") == bytes(want)
    assert lower.read("/big") == big
    assert _host_file(ov.upper, "/big").fd != _host_file(lower, "/big").fd
    assert ov.upper.usage()[0] == 3 * MiB
    # an upper with no room: the copy-up fails whole and the lower file stays visible
    small = OverlayBackend([lower], MemoryBackend(max_bytes=2 * MiB))
    with pytest.raises(OSError) as e:
        small.write("/big", b"XYZ", MiB)
    assert e.value.errno == errno.ENOSPC
    assert small.read("/big") == big
    assert small.upper.lookup("/big") is None and small.upper.usage()[0] == 0
