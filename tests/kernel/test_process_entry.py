"""What a command's process is given and leaves behind, built the kernel's short way: the
process-table row, the command's context, the audit records, the command table's memory of
what a name runs, and the rows of ended processes the table keeps."""

from __future__ import annotations

from typing import Any

from pocketos import VM
from pocketos.kernel.budget import Budget
from pocketos.kernel.kernel import MAX_EXITED_KEPT
from pocketos.kernel.process import Context, ProcessInfo
from pocketos.kernel.streams import BytesSink, BytesSource


def test_a_started_row_equals_the_one_the_full_constructor_makes() -> None:
    env = {"A": "1"}
    info = ProcessInfo.started(7, 3, ["wc", "-l"], "/tmp", env)
    full = ProcessInfo(7, 3, 7, ["wc", "-l"], "/tmp", env, start_time=info.start_time)
    assert info == full
    assert info.to_dict() == full.to_dict()
    assert repr(info) == repr(full)
    # the mutable fields are the row's own, not shared with another row
    other = ProcessInfo.started(8, 3, ["cat"], "/", env)
    info.children.append(9)
    info.pending_traps.append(15)
    assert other.children == [] and other.pending_traps == []
    # fields left at their defaults are set on the row when they change, never on the class
    info.status, info.exit_code, info.caught = "exited", 3, frozenset({10})
    assert (other.status, other.exit_code, other.caught) == ("running", None, frozenset())
    assert ProcessInfo.status == "running"


def test_a_process_context_is_the_same_as_one_built_with_its_fields() -> None:
    with VM() as vm:
        kernel = vm.kernel
        info = kernel.new_process(["prog", "a"], env={"X": "1"}, cwd="/tmp", ppid=0)
        budget = Budget(kernel.limits)
        streams = (BytesSource(b"in"), BytesSink(), BytesSink())
        ctx = Context.of_process(kernel, info, *streams, kernel.limits, budget)
        slow = Context(
            kernel,
            ["prog", "a"],
            env={"X": "1"},
            cwd="/tmp",
            stdin=streams[0],
            stdout=streams[1],
            stderr=streams[2],
            pid=info.pid,
            limits=kernel.limits,
            info=info,
            budget=budget,
        )
        for name in ("argv", "env", "cwd", "pid", "ppid", "limits", "info", "budget"):
            assert getattr(ctx, name) == getattr(slow, name), name
        assert (ctx.stdin, ctx.stdout, ctx.stderr) == streams
        assert ctx.shell_state is None and ctx.held is None
        assert info.budget is budget and info.max_open_files == kernel.limits.max_open_files
        # argv and env are the command's own copies
        ctx.argv.append("b")
        ctx.env["Y"] = "2"
        assert info.argv == ["prog", "a"] and info.env == {"X": "1"}
        # the filesystem view is made when first used, at the process's cwd, counting its files
        fs = ctx.fs
        assert fs is ctx.fs and fs.cwd == "/tmp" and fs.owner is info
        assert fs.abspath("f") == "/tmp/f"
        other = fs.with_cwd("/")
        ctx.fs = other
        assert ctx.fs is other
        kernel.end_process(info, 0)


def test_a_command_reaches_files_through_its_context_relative_to_its_cwd() -> None:
    async def probe(ctx: Context) -> int:
        await ctx.out(ctx.fs.read_bytes("f.txt"))
        return 0

    with VM() as vm:
        vm.kernel.extra_commands["probe"] = probe
        vm.write_file("/w/f.txt", b"here\n", parents=True)
        r = vm.exec("cd /w && probe && x=$(probe) && echo $x")
        assert (r.exit_code, r.stdout, r.stderr) == (0, "here\nhere\n", "")


def test_the_audit_records_carry_the_process_rows_start_and_end_times() -> None:
    with VM() as vm:
        r = vm.exec("x=$(wc -l < /etc/passwd); true | cat")
        assert r.exit_code == 0
        rows = {p.pid: p for p in vm.kernel.procs.values()}
        events = [e for e in vm.audit_log() if e.kind == "process"]
        assert events
        for e in events:
            row = rows[e.pid]
            when = row.start_time if e.capability == "child_process.spawn" else row.end_time
            assert e.time == when, (e, row)


def test_a_sink_sees_events_with_the_same_times_as_the_log() -> None:
    seen: list[Any] = []
    with VM() as vm:
        vm.kernel.audit.sinks.append(seen.append)
        assert vm.exec("x=$(wc -l < /etc/passwd)").exit_code == 0
        assert [(e.seq, e.time, e.detail) for e in seen] == [
            (e.seq, e.time, e.detail) for e in vm.audit_log()
        ]


def test_a_command_added_to_a_vm_wins_over_a_name_its_sources_already_resolved() -> None:
    async def mine(ctx: Context) -> int:
        await ctx.out("mine\n")
        return 0

    with VM() as vm:
        assert vm.exec("echo a | wc -l").stdout.strip() == "1"  # wc resolved from its source
        assert vm.exec("nosuchcmd").exit_code == 127
        vm.kernel.commands.add("wc", mine)
        vm.kernel.commands.add("nosuchcmd", mine)
        r = vm.exec("echo a | wc -l; x=$(wc); echo $x; nosuchcmd")
        assert (r.exit_code, r.stdout) == (0, "mine\nmine\nmine\n")
        del vm.kernel.commands.extra["wc"]
        assert vm.exec("echo a | wc -l").stdout.strip() == "1"


def test_the_table_keeps_the_rows_of_the_processes_that_ended_last() -> None:
    with VM() as vm:
        n = MAX_EXITED_KEPT * 5
        r = vm.exec(f"for ((i=0;i<{n};i++)); do x=$(wc -l < /etc/passwd); done; sleep 0")
        assert r.exit_code == 0
        procs = vm.kernel.procs
        shell = procs[1]  # the exec's shell: it ended last, its row is kept
        assert shell.argv[0] == "bash" and shell.status == "exited"
        kept = sorted(p for p in procs if p != 1)
        assert all(procs[p].status == "exited" for p in kept)
        assert MAX_EXITED_KEPT <= len(kept) + 1 <= 2 * MAX_EXITED_KEPT
        # the rows kept are those of the last commands, with none missing in between
        assert kept == list(range(kept[0], n + 3))
        assert procs[n + 2].argv == ["sleep", "0"]
        assert all(procs[p].argv == ["wc", "-l"] for p in kept[:-1])
        # a parent lists exactly the children the table still has
        assert shell.children == kept
