"""Forking again and again does not pile up layers in the parent."""

from __future__ import annotations

from pocketos import VM


def test_forks_without_writes_share_one_sealed_layer() -> None:
    with VM() as parent:
        parent.write_file("/tmp/a", "a\n")
        first = parent.fork()
        depth = len(parent.async_vm._root.lowers)
        children = [parent.fork() for _ in range(50)]
        assert len(parent.async_vm._root.lowers) == depth
        for c in (first, *children):
            assert c.read_text("/tmp/a") == "a\n"
        # every VM stays independent
        parent.write_file("/tmp/a", "parent\n")
        children[0].write_file("/tmp/a", "child\n")
        assert first.read_text("/tmp/a") == "a\n"
        assert children[1].read_text("/tmp/a") == "a\n"
        assert children[0].read_text("/tmp/a") == "child\n"
        assert parent.read_text("/tmp/a") == "parent\n"
        for c in (first, *children):
            c.close()


def test_a_write_between_forks_is_sealed_and_kept() -> None:
    with VM() as parent:
        kids = []
        for i in range(5):
            parent.write_file(f"/tmp/f{i}", f"{i}\n")
            kids.append(parent.fork())
        for i, k in enumerate(kids):
            assert k.exec("cat /tmp/f*").stdout == "".join(f"{j}\n" for j in range(i + 1))
            k.close()
        parent.exec("rm /tmp/f0")
        late = parent.fork()
        assert not late.exists("/tmp/f0")
        assert parent.fork().exists("/tmp/f1")


def test_deleting_and_chmod_between_forks_are_not_lost() -> None:
    with VM() as parent:
        parent.write_file("/tmp/x", "x")
        a = parent.fork()
        parent.exec("chmod 600 /tmp/x")
        b = parent.fork()
        assert b.exec("stat -c %a /tmp/x").stdout == "600\n"
        assert a.exec("stat -c %a /tmp/x").stdout != "600\n"
        parent.exec("mkdir /tmp/d")
        c = parent.fork()
        assert c.exists("/tmp/d")
        for v in (a, b, c):
            v.close()
