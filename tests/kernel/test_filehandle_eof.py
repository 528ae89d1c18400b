"""An open file that was read to its end answers the next read without asking the backend
only while nothing could have changed it: whatever happened to the file in between (another
handle appended, it was truncated and rewritten, another file was renamed over its name, a
lower layer's file was copied up and grown, a host process wrote to it) is read as before."""

from __future__ import annotations

from pathlib import Path

from pocketos import VM
from pocketos.kernel.fs.memory import MemoryBackend
from pocketos.kernel.fs.overlay import OverlayBackend


def test_bytes_appended_by_another_handle_are_read() -> None:
    with VM() as vm:
        vfs = vm.kernel.vfs
        vm.write_file("/tmp/f", b"one\n")
        with vfs.open("/tmp/f", "rb") as fh:
            assert fh.read(100) == b"one\n"
            assert fh.read(100) == b""
            with vfs.open("/tmp/f", "ab") as out:
                out.write(b"two\n")
            assert fh.read(100) == b"two\n"
            assert fh.read(100) == b""
            assert fh.read() == b""


def test_a_file_truncated_and_rewritten_longer_is_read_from_the_same_offset() -> None:
    with VM() as vm:
        vfs = vm.kernel.vfs
        vm.write_file("/tmp/f", b"abc")
        with vfs.open("/tmp/f", "rb") as fh:
            assert fh.read() == b"abc"
            assert fh.read(10) == b""
            vm.write_file("/tmp/f", b"ABCDEF")  # truncates, then writes
            assert fh.read(10) == b"DEF"


def test_a_seek_back_after_the_end_reads_again() -> None:
    with VM() as vm:
        vm.write_file("/tmp/f", b"xyz")
        with vm.kernel.vfs.open("/tmp/f", "rb") as fh:
            assert fh.read(10) == b"xyz"
            assert fh.read(10) == b""
            fh.seek(1)
            assert fh.read(10) == b"yz"


def test_writes_through_the_same_handle_are_read() -> None:
    with VM() as vm:
        vm.write_file("/tmp/f", b"12")
        with vm.kernel.vfs.open("/tmp/f", "r+b") as fh:
            assert fh.read(10) == b"12"
            assert fh.read(10) == b""
            fh.write(b"34")
            fh.seek(2)
            assert fh.read(10) == b"34"


def test_a_file_renamed_over_the_name_is_read_as_before() -> None:
    with VM() as vm:
        vm.write_file("/tmp/f", b"ab")
        vm.write_file("/tmp/g", b"ABCD")
        with vm.kernel.vfs.open("/tmp/f", "rb") as fh:
            assert fh.read(10) == b"ab"
            assert fh.read(10) == b""
            with vm.kernel.vfs.open("/tmp/f", "rb") as fresh:
                before = fresh.read(10)
            vm.kernel.vfs.rename("/tmp/g", "/tmp/f")
            # as a handle that never took the short cut reads it
            with vm.kernel.vfs.open("/tmp/f", "rb") as other:
                other.seek(len(before))
                expected = other.read(10)
            assert fh.read(10) == expected == b"CD"


def test_a_lower_layer_file_grown_through_the_overlay_is_read() -> None:
    lower = MemoryBackend()
    lower.create("/f")
    lower.write("/f", b"base")
    lower.freeze()
    ov = OverlayBackend([lower])
    with VM() as vm:
        vm.kernel.vfs.mount("/ov", ov)
        with vm.kernel.vfs.open("/ov/f", "rb") as fh:
            assert fh.read(10) == b"base"
            assert fh.read(10) == b""
            with vm.kernel.vfs.open("/ov/f", "ab") as out:  # copies the file up
                out.write(b"+up")
            assert fh.read(10) == b"+up"


def test_a_host_file_written_by_a_host_process_is_read(tmp_path: Path) -> None:
    host = tmp_path / "f"
    host.write_bytes(b"first\n")
    with VM() as vm:
        vm.mount("/h", host=str(tmp_path))
        with vm.kernel.vfs.open("/h/f", "rb") as fh:
            assert fh.read(100) == b"first\n"
            assert fh.read(100) == b""
            with host.open("ab") as out:
                out.write(b"second\n")
            assert fh.read(100) == b"second\n"


def test_a_shell_reading_a_file_as_it_grows_sees_each_line() -> None:
    with VM() as vm:
        r = vm.exec(
            "printf 'a\\n' > f; exec 3< f; read -r x <&3; read -r y <&3; s=$?; "
            "printf 'b\\n' >> f; read -r z <&3; echo \"$x/$y/$s/$z\""
        )
        assert r.stdout == "a//1/b\n"
