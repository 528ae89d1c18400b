"""python3 inside shell pipelines."""

from __future__ import annotations

from tests.wasm.conftest import need_python

need_python()


def test_shell_python_round_trip(vm):
    r = vm.exec("cd /work && echo hi > f; python3 -c 'print(open(\"f\").read())'")
    assert (r.exit_code, r.stdout) == (0, "hi\n\n")


def test_python_then_shell(vm):
    r = vm.exec('cd /work && python3 -c \'open("g", "w").write("from py\\n")\' && cat g')
    assert (r.exit_code, r.stdout) == (0, "from py\n")


def test_pandas_pipeline(vm):
    vm.write_file("/work/data.csv", b"name,score\nbob,3\nann,5\ncid,4\n")
    code = (
        "import sys, pandas as pd\n"
        "df = pd.read_csv(sys.stdin)\n"
        "for n, s in zip(df.name, df.score * 2): print(n, s)\n"
    )
    r = vm.exec(f"cd /work && cat data.csv | python3 -c '{code}' | sort")
    assert (r.exit_code, r.stdout) == (0, "ann 10\nbob 6\ncid 8\n")


def test_head_ends_an_endless_generator(vm):
    r = vm.exec("python3 -c 'import itertools\nfor i in itertools.count(): print(i)' | head -n 5")
    assert (r.exit_code, r.stdout) == (0, "0\n1\n2\n3\n4\n")


def test_exit_status_in_shell(vm):
    r = vm.exec("python3 -c 'raise SystemExit(4)'; echo $?")
    assert r.stdout == "4\n"


def test_python_to_python_pipe(vm):
    r = vm.exec(
        "python3 -c 'for i in range(3): print(i)' | python3 -c 'import sys; print(sum(int(x) for x in sys.stdin))'"
    )
    assert (r.exit_code, r.stdout) == (0, "3\n")


def test_pip_list_shows_builtins(vm):
    r = vm.exec("pip list | grep -i -c '^numpy '")
    assert (r.exit_code, r.stdout) == (0, "1\n")
