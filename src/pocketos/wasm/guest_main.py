"""Guest code: the start of every ``python3`` invocation, run inside the interpreter.

It binds the fresh interpreter to the invocation (stdin through the host door, environment,
cwd, ``PYTHONPATH``), installs the import hook that serves ``pocketos_http`` and routes
``http.client`` through the VM's gateway, runs the program with CPython's own command-line
handling (``_reactor.run``), then does what interpreter exit would: ``atexit`` handlers, the
program's globals dropped (so unclosed files are flushed) and the standard streams flushed.
"""

import io
import os
import sys

import _host  # type: ignore[import-not-found]  # the runtime's door to the host (only inside the VM)


class _Stdin(io.RawIOBase):
    """The process's stdin, read from the host on demand."""

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return 0

    def readinto(self, buf) -> int:  # type: ignore[no-untyped-def]
        data = _host.call(b"r" + str(min(len(buf), 1 << 20)).encode())
        n = len(data)
        buf[:n] = data
        return n


_os_read = os.read
_os_open = os.open
_io_open = io.open


def _read(fd, n):  # type: ignore[no-untyped-def]
    """``os.read`` with fd 0 served from the process's stdin."""
    if fd == 0 and not isinstance(fd, bool):
        return _host.call(b"r" + str(max(0, min(n, 1 << 20))).encode())
    return _os_read(fd, n)


def _may_write(file) -> None:  # type: ignore[no-untyped-def]
    """Ask the VM whether this process may write the existing file ``file``: the runtime
    learns a refusal only when it writes the file back, so an open to append or update on a
    read-only mount (or a path the policy keeps from writing) fails here, as on Linux."""
    try:
        path = os.fsdecode(file)
    except TypeError:
        return
    answer = _host.call(b"w" + os.path.abspath(path).encode("utf-8", "surrogateescape"))
    if answer:
        import errno

        code = getattr(errno, answer.decode("ascii", "replace"), errno.EIO)
        raise OSError(code, os.strerror(code), path)


def _os_open_checked(path, flags, mode=0o777, *, dir_fd=None):  # type: ignore[no-untyped-def]
    """``os.open`` that asks first when it opens an existing file to write without truncating."""
    acc = flags & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)  # WASI's O_RDWR is two bits
    if dir_fd is None and acc in (os.O_WRONLY, os.O_RDWR) and not flags & os.O_TRUNC:
        _may_write(path)
    return _os_open(path, flags, mode, dir_fd=dir_fd)


def _open(
    file,
    mode="r",
    buffering=-1,
    encoding=None,
    errors=None,
    newline=None,  # type: ignore[no-untyped-def]
    closefd=True,
    opener=None,
):
    """``open`` with ``open(0)`` (read-only) served from the process's stdin."""
    if (
        type(file) is int
        and file == 0
        and opener is None
        and "+" not in mode
        and not set(mode) & set("wax")
    ):
        raw = _Stdin()
        if "b" in mode:
            return raw if buffering == 0 else io.BufferedReader(raw)
        return io.TextIOWrapper(
            io.BufferedReader(raw), encoding=encoding or "utf-8", errors=errors, newline=newline
        )
    if type(file) is not int and opener is None and ("a" in mode or "+" in mode):
        _may_write(file)
    return _io_open(file, mode, buffering, encoding, errors, newline, closefd, opener)


class _HttpLoader:
    @staticmethod
    def create_module(spec):  # type: ignore[no-untyped-def]
        return None

    @staticmethod
    def exec_module(module) -> None:  # type: ignore[no-untyped-def]
        src = _host.call(b"s").decode("utf-8")
        module.__file__ = "<pocketos_http>"
        exec(compile(src, "<pocketos_http>", "exec"), module.__dict__)


class _Patched:
    """``http.client``'s own loader, followed by the gateway patch."""

    def __init__(self, loader) -> None:  # type: ignore[no-untyped-def]
        self.loader = loader

    def create_module(self, spec):  # type: ignore[no-untyped-def]
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:  # type: ignore[no-untyped-def]
        self.loader.exec_module(module)
        import pocketos_http

        pocketos_http._patch_http_client(module)

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        return getattr(self.loader, name)


class _Finder:
    @classmethod
    def find_spec(cls, name, path=None, target=None):  # type: ignore[no-untyped-def]
        if name == "pocketos_http":
            from importlib.machinery import ModuleSpec

            return ModuleSpec(name, _HttpLoader, origin="<pocketos>")  # type: ignore[arg-type]
        if name != "http.client":
            return None
        for finder in sys.meta_path:
            if finder is cls or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                spec.loader = _Patched(spec.loader)  # type: ignore[assignment]
                return spec
        return None


def main(argv, env, path0=None):  # type: ignore[no-untyped-def]
    sys.stdin = io.TextIOWrapper(
        io.BufferedReader(_Stdin()), encoding="utf-8", errors="surrogateescape", newline="\n"
    )
    os.read = _read
    os.open = _os_open_checked
    io.open = _open
    import builtins

    builtins.open = _open
    os.environ.clear()
    os.environ.update(env)
    try:
        os.chdir(env.get("PWD") or "/")
    except OSError:
        pass
    sys.path[0:0] = [p for p in env.get("PYTHONPATH", "").split(":") if p]
    if path0 is not None:
        sys.path.insert(0, path0)
    sys.meta_path.insert(0, _Finder)
    code = __import__("_reactor").run(argv, env)
    try:
        import atexit

        atexit._run_exitfuncs()
    except BaseException:
        pass
    m = sys.modules.get("__main__")
    if m is not None:
        try:
            m.__dict__.clear()
        except BaseException:
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    return code
