"""awk's input and output: the main input (ARGV operands, assignments, FNR), getline from
files and commands, output redirections to files and pipes, close, fflush and system."""

from __future__ import annotations

import asyncio
from typing import Any

from pocketos.commands._awk.lexer import unescape
from pocketos.commands._awk.reader import CHUNK, Reader
from pocketos.commands._awk.records import (
    _ASSIGN,
    RecordState,
)
from pocketos.commands._awk.values import (
    AwkFatal,
    StrNum,
    num,
)
from pocketos.kernel.streams import Pipe

__all__ = ["InputCommand", "Output", "StreamRuntime"]


class Output:
    """An output redirection target."""

    __slots__ = ("kind", "name", "handle", "pieces", "task", "broken")

    def __init__(self, kind: str, name: str, handle: Any = None) -> None:
        self.kind = kind  # file | pipe | stdout | stderr
        self.name = name
        #: a file handle, or for pipes the write end feeding the command
        self.handle = handle
        self.pieces: list[str] = []
        #: for pipes: the task running the command (its result is the exit status)
        self.task: asyncio.Task[int] | None = None
        self.broken = False


class InputCommand:
    """A command whose output ``getline`` reads while it runs."""

    __slots__ = ("reader", "pipe", "task")

    def __init__(self, reader: Reader, pipe: Pipe, task: asyncio.Task[int]) -> None:
        self.reader = reader
        self.pipe = pipe
        self.task = task

    async def close(self) -> int:
        self.pipe.reader.close()
        try:
            return await self.task
        except BrokenPipeError:
            return 141


class StreamRuntime(RecordState):
    # --- input --------------------------------------------------------------------------
    def _file_reader(self, path: str) -> Reader:
        h = self.ctx.fs.open(path, "rb")
        done = False

        def close() -> None:
            nonlocal done
            if not done:
                done = True
                h.close()

        async def read() -> bytes:
            if done:
                return b""
            data: bytes = h.read(CHUNK)
            if not data:
                close()
            return data

        r = Reader(read, self.codec)
        r.closer = close
        return r

    def _stdin_reader(self) -> Reader:
        stdin = self.ctx.stdin

        async def read() -> bytes:
            return await stdin.read(CHUNK)

        return Reader(read, self.codec)

    def assign_operand(self, arg: str) -> None:
        name, _, value = arg.partition("=")
        key = "V_" + name
        if isinstance(self.G.get(key), dict):
            raise AwkFatal(f"cannot use array `{name}' in scalar context")
        if name in ("FS", "OFS", "ORS", "RS", "SUBSEP", "CONVFMT", "OFMT", "NR", "FNR", "NF"):
            self.setsp(name, StrNum(unescape(value)))
        else:
            self.G[key] = StrNum(unescape(value))

    async def open_next(self) -> bool:
        """Advance to the next input file; False when none is left."""
        G = self.G
        while True:
            argc = int(num(G["V_ARGC"]))
            if self.argi >= argc:
                if self.used_file:
                    return False
                self.used_file = True
                self.main_reader = self._stdin_reader()
                G["V_FNR"] = 0.0
                G["V_FILENAME"] = "-"
                if self.beginfile is not None:
                    await self.beginfile()
                return True
            argv = G["V_ARGV"]
            key = str(self.argi)
            self.argi += 1
            arg = self.tostr(argv[key]) if key in argv else ""
            if arg == "":
                continue
            if _ASSIGN.match(arg):
                self.assign_operand(arg)
                continue
            self.used_file = True
            if arg in ("-", "/dev/stdin"):
                self.main_reader = self._stdin_reader()
            else:
                try:
                    st = self.ctx.fs.stat(arg)
                    if st.is_dir():
                        await self.warn(
                            f"warning: command line argument `{arg}' is a directory: skipped"
                        )
                        continue
                    self.main_reader = self._file_reader(arg)
                except OSError as exc:
                    raise AwkFatal(
                        f"cannot open file `{arg}' for reading: {exc.strerror or exc}", False
                    )
            G["V_FILENAME"] = arg
            G["V_FNR"] = 0.0
            if self.beginfile is not None:
                await self.beginfile()
            return True

    async def current_input(self) -> Reader | None:
        """The main input being read, opening the next one when none is; None at the end."""
        while self.main_reader is None:
            if self.inputs_done or not await self.open_next():
                self.inputs_done = True
                return None
        return self.main_reader

    async def next_main(self) -> str | None:
        """Read the next main-input record, advancing NR and FNR."""
        G = self.G
        while True:
            r = await self.current_input()
            if r is None:
                return None
            rec = await r.next(G["V_RS"])
            if rec is not None:
                G["V_NR"] += 1.0
                G["V_FNR"] += 1.0
                if self.uses_rt:
                    G["V_RT"] = r.rt
                return rec
            await self.end_file()

    async def next_block(self) -> str | None:
        """The next block of main-input records (see Reader.block), opening the input files
        in turn like next_main; NR and FNR are left to the caller."""
        while True:
            r = await self.current_input()
            if r is None:
                return None
            blk = await r.block()
            if blk is not None:
                return blk
            await self.end_file()

    async def end_file(self) -> None:
        if self.main_reader is not None:
            self.main_reader.close()
        self.main_reader = None
        if self.endfile is not None:
            await self.endfile()

    async def skip_file(self) -> None:
        if self.main_reader is not None:
            await self.end_file()

    def _got(self, rec: str, into_record: bool) -> float:
        """A record read by getline: into $0 (and NF) or into the target variable."""
        if into_record:
            self.set_record(rec)
        else:
            self.glv = StrNum(rec)
        return 1.0

    async def getline_main(self, into_record: bool) -> float:
        rec = await self.next_main()
        if rec is None:
            return 0.0
        return self._got(rec, into_record)

    async def getline_file(self, name: Any, into_record: bool) -> float:
        name = self.tostr(name)
        if name == "":
            raise AwkFatal("expression for `<' redirection has null string value")
        r = self.in_files.get(name)
        if r is None:
            try:
                if name in ("-", "/dev/stdin"):
                    r = self._stdin_reader()
                else:
                    r = self._file_reader(name)
            except OSError:
                return -1.0
            self.in_files[name] = r
        try:
            rec = await r.next(self.G["V_RS"])
        except OSError:
            return -1.0
        if rec is None:
            return 0.0
        if self.uses_rt:
            self.G["V_RT"] = r.rt
        return self._got(rec, into_record)

    async def getline_cmd(self, cmd: Any, into_record: bool) -> float:
        cmd = self.tostr(cmd)
        if cmd == "":
            raise AwkFatal("expression for `|' redirection has null string value")
        ent = self.in_cmds.get(cmd)
        if ent is None:
            await self.flush_all()
            pipe = Pipe(self.ctx.limits.pipe_buffer)
            ctx = self.ctx

            async def child() -> int:
                try:
                    return await ctx.run(["sh", "-c", cmd], stdout=pipe.writer)
                finally:
                    pipe.writer.close()

            async def read() -> bytes:
                return await pipe.reader.read(CHUNK)

            ent = InputCommand(Reader(read, self.codec), pipe, asyncio.ensure_future(child()))
            self.in_cmds[cmd] = ent
        r = ent.reader
        rec = await r.next(self.G["V_RS"])
        if rec is None:
            return 0.0
        if self.uses_rt:
            self.G["V_RT"] = r.rt
        return self._got(rec, into_record)

    # --- output -------------------------------------------------------------------------
    def encode(self, s: str) -> bytes:
        try:
            return s.encode(self.codec, "surrogateescape")
        except UnicodeEncodeError:
            return s.encode("utf-8", "surrogateescape")

    async def flush(self) -> None:
        if self.pending:
            msgs = self.pending[:]
            self.pending.clear()
            for m in msgs:
                await self.ctx.stderr.write(self.encode(f"{self.name}: cmd. line:1: {m}\n"))
        if self.ob:
            data = self.encode("".join(self.ob))
            self.ob.clear()
            await self.ctx.stdout.write(data)

    async def warn(self, msg: str) -> None:
        await self.flush()
        await self.ctx.stderr.write(self.encode(f"{self.name}: {msg}\n"))

    async def redirect(self, kind: str, target: Any, s: str) -> None:
        name = self.tostr(target)
        o = self.outputs.get(name)
        if o is None:
            if name == "":
                raise AwkFatal(f"expression for `{kind}' redirection has null string value")
            o = await self.open_output(kind, name)
        if o.kind == "stdout":
            self.ob.append(s)
            if len(self.ob) > 512:
                await self.flush()
        elif o.kind == "stderr":
            await self.flush()
            await self.ctx.stderr.write(self.encode(s))
        elif o.kind == "pipe":
            o.pieces.append(s)
            if len(o.pieces) > 512:
                await self._feed(o)
        else:
            o.pieces.append(s)
            if len(o.pieces) > 512:
                self._flush_file(o)

    async def open_output(self, kind: str, name: str) -> Output:
        if kind == "|":
            await self.flush()
            pipe = Pipe(self.ctx.limits.pipe_buffer)
            ctx = self.ctx

            async def child() -> int:
                try:
                    return await ctx.run(["sh", "-c", name], stdin=pipe.reader)
                finally:
                    pipe.reader.close()

            o = Output("pipe", name, pipe.writer)
            o.task = asyncio.ensure_future(child())
        elif name in ("/dev/stdout", "-"):
            o = Output("stdout", name)
        elif name == "/dev/stderr":
            o = Output("stderr", name)
        else:
            try:
                h = self.ctx.fs.open(name, "ab" if kind == ">>" else "wb")
            except OSError as exc:
                raise AwkFatal(f"can't redirect to `{name}' ({exc.strerror or exc})")
            o = Output("file", name, h)
        self.outputs[name] = o
        return o

    async def _feed(self, o: Output) -> None:
        """Write what was printed to a pipe into it (dropped once the command stopped reading)."""
        if o.pieces:
            data = self.encode("".join(o.pieces))
            o.pieces.clear()
            if not o.broken:
                try:
                    await o.handle.write(data)
                except BrokenPipeError:
                    o.broken = True

    def _flush_file(self, o: Output) -> None:
        if o.pieces:
            data = self.encode("".join(o.pieces))
            o.pieces.clear()
            o.handle.write(data)

    async def _close_output(self, o: Output) -> int:
        if o.kind == "file":
            self._flush_file(o)
            o.handle.close()
            return 0
        if o.kind == "pipe":
            await self._feed(o)
            o.handle.close()
            assert o.task is not None
            return await o.task
        if o.kind == "stdout":
            await self.flush()
        return 0

    async def close(self, name: Any, how: Any = None) -> float:
        name = self.tostr(name)
        result = -1.0
        o = self.outputs.pop(name, None)
        if o is not None:
            if o.kind == "pipe":
                await self.flush()
            result = float(await self._close_output(o))
        r = self.in_files.pop(name, None)
        if r is not None:
            r.close()
            result = 0.0
        ent = self.in_cmds.pop(name, None)
        if ent is not None:
            result = float(await ent.close())
        return result

    async def fflush(self, name: Any = None) -> float:
        if name is None:
            await self.flush_all()
            return 0.0
        name = self.tostr(name)
        if name == "":
            await self.flush_all()
            return 0.0
        o = self.outputs.get(name)
        if o is None:
            return -1.0
        if o.kind == "file":
            self._flush_file(o)
        elif o.kind == "pipe":
            await self._feed(o)
        elif o.kind == "stdout":
            await self.flush()
        return 0.0

    async def flush_all(self) -> None:
        await self.flush()
        for o in list(self.outputs.values()):
            if o.kind == "file":
                self._flush_file(o)
            elif o.kind == "pipe":
                await self._feed(o)

    def cancel_children(self) -> None:
        """Stop commands still attached to pipes (the program is being aborted)."""
        for ent in self.in_cmds.values():
            ent.pipe.reader.close()
            if not ent.task.done():
                ent.task.cancel()
        for o in self.outputs.values():
            if o.task is not None and not o.task.done():
                o.handle.close()
                o.task.cancel()

    async def system(self, cmd: Any) -> float:
        await self.flush_all()
        status = await self.ctx.run(["sh", "-c", self.tostr(cmd)])
        return float(status)

    async def close_all(self) -> None:
        for r in self.in_files.values():
            r.close()
        self.in_files.clear()
        if self.main_reader is not None:
            self.main_reader.close()
        for name in list(self.in_cmds):
            await self.in_cmds.pop(name).close()
        for name in list(self.outputs):
            if self.outputs[name].kind == "pipe":
                await self._close_output(self.outputs.pop(name))
        await self.flush()
        for name in list(self.outputs):
            o = self.outputs.pop(name)
            await self._close_output(o)
