"""An open file's ``write`` takes any bytes-like object without copying it first: the VFS
keeps a copy of the bytes, never the caller's object."""

from __future__ import annotations

import array

from pocketos import VM


def test_a_written_view_is_copied_so_the_caller_may_reuse_its_buffer() -> None:
    with VM() as vm:
        buf = bytearray(b"..hello world..")
        with vm.kernel.vfs.open("/tmp/f", "wb") as fh, memoryview(buf) as view:
            assert fh.write(view[2:13]) == 11
            assert fh.write(buf) == 15
            buf[:] = b"X" * len(buf)
        assert vm.read_file("/tmp/f") == b"hello world..hello world.."


def test_a_buffer_of_wider_items_is_written_as_its_bytes() -> None:
    with VM() as vm:
        items = array.array("H", [0x0102, 0x0304])
        with vm.kernel.vfs.open("/tmp/f", "wb") as fh:
            assert fh.write(memoryview(items)) == 4
        with vm.kernel.vfs.open("/tmp/f", "ab") as fh:
            assert fh.write(items) == 4
        assert vm.read_file("/tmp/f") == items.tobytes() * 2
