"""node/js in the VM: QuickJS-NG in wasm over the VM filesystem."""

from __future__ import annotations

from tests.wasm.conftest import need_js

need_js()


def run(vm, argv, stdin=b"", cwd="/work", **kw):
    return vm.run(argv, stdin=stdin, cwd=cwd, **kw)


def test_console_log(vm):
    r = run(vm, ["node", "-e", "console.log('hi', 1 + 1, {a: 1, b: 'x'}, [1, 2], null, undefined)"])
    assert (r.exit_code, r.stdout, r.stderr) == (
        0,
        "hi 2 { a: 1, b: 'x' } [ 1, 2 ] null undefined\n",
        "",
    )


def test_js_alias_and_console_error(vm):
    r = run(vm, ["js", "-e", "console.error('bad'); console.log('good')"])
    assert (r.exit_code, r.stdout, r.stderr) == (0, "good\n", "bad\n")


def test_print_flag(vm):
    r = run(vm, ["node", "-p", "6 * 7"])
    assert r.stdout == "42\n"


def test_timers_and_promises(vm):
    code = (
        "setTimeout(() => console.log('later'), 0);"
        "Promise.resolve(1).then(v => console.log('p', v));"
        "let n = 0; const i = setInterval(() => { console.log('tick', ++n); if (n === 3) clearInterval(i); }, 1);"
        "console.log('now')"
    )
    r = run(vm, ["node", "-e", code])
    assert r.stdout == "now\np 1\nlater\ntick 1\ntick 2\ntick 3\n"


def test_async_await(vm):
    r = run(
        vm,
        [
            "node",
            "-e",
            "(async () => { await new Promise(r => setTimeout(r, 1)); console.log('done') })()",
        ],
    )
    assert r.stdout == "done\n"


def test_exit_codes(vm):
    assert run(vm, ["node", "-e", "process.exit(3)"]).exit_code == 3
    assert run(vm, ["node", "-e", "process.exitCode = 4"]).exit_code == 4
    r = run(vm, ["node", "-e", "throw new Error('boom')"])
    assert r.exit_code == 1
    assert r.stderr.splitlines()[0] == "Uncaught Error: boom"


def test_script_file_argv_and_require(vm):
    vm.write_file("/work/a.txt", b"file text\n")
    vm.write_file("/work/helper.js", b"module.exports = { twice: (x) => x * 2 };\n")
    vm.write_file(
        "/work/s.js",
        b"#!/usr/bin/env node\n"
        b"const fs = require('fs'); const path = require('node:path');\n"
        b"const { twice } = require('./helper');\n"
        b"console.log(fs.readFileSync('a.txt', 'utf8').trim(), process.argv.slice(2), twice(21));\n"
        b"console.log(path.basename(__filename), path.join('/a', '..', 'b'));\n"
        b"fs.writeFileSync('out.txt', 'from js\\n');\n",
    )
    r = run(vm, ["node", "s.js", "x", "y"])
    assert (r.exit_code, r.stdout, r.stderr) == (0, "file text [ 'x', 'y' ] 42\ns.js /b\n", "")
    assert vm.read_file("/work/out.txt") == b"from js\n"


def test_es_modules(vm):
    vm.write_file(
        "/work/lib.mjs", b"export const x = 42;\nexport default function f() { return 'f'; }\n"
    )
    vm.write_file("/work/main.mjs", b"import f, { x } from './lib.mjs';\nconsole.log(x, f());\n")
    r = run(vm, ["node", "main.mjs"])
    assert (r.exit_code, r.stdout) == (0, "42 f\n")


def test_std_and_os_modules(vm):
    vm.write_file("/work/q.txt", b"quick\n")
    r = run(
        vm, ["node", "-e", "std.out.puts(std.loadFile('q.txt')); console.log(os.readdir('.')[1])"]
    )
    assert r.exit_code == 0
    assert r.stdout.splitlines()[0] == "quick"


def test_stdin_streamed(vm):
    r = run(
        vm,
        [
            "node",
            "-e",
            "let l; while ((l = std.in.getline()) !== null) console.log(l.toUpperCase())",
        ],
        stdin=b"ab\ncd\n",
    )
    assert r.stdout == "AB\nCD\n"


def test_program_from_stdin(vm):
    r = run(vm, ["node"], stdin=b"console.log('piped program')")
    assert r.stdout == "piped program\n"


def test_vm_files_only(vm):
    vm.write_file("/etc/passwd", b"only:x:0:0:vm:/:/bin/sh\n")
    r = run(
        vm, ["node", "-e", "console.log(require('fs').readFileSync('/etc/passwd', 'utf8').trim())"]
    )
    assert r.stdout == "only:x:0:0:vm:/:/bin/sh\n"
    r = run(vm, ["node", "-e", "console.log(JSON.stringify(require('fs').readdirSync('/')))"])
    assert (
        r.stdout == __import__("json").dumps(sorted(vm.readdir("/")), separators=(",", ":")) + "\n"
    )


def test_dotdot_stays_in_vm(vm):
    r = run(
        vm,
        ["node", "-e", "console.log(JSON.stringify(require('fs').readdirSync('/work/../../..')))"],
    )
    assert (
        r.stdout == __import__("json").dumps(sorted(vm.readdir("/")), separators=(",", ":")) + "\n"
    )


def test_denied_path(secret_vm):
    r = secret_vm.run(
        [
            "node",
            "-e",
            "try { require('fs').readFileSync('/secret/key.txt', 'utf8') }"
            " catch (e) { console.log(e.code) }",
        ],
        stdin=b"",
        cwd="/work",
    )
    assert r.stdout == "EACCES\n"


def test_infinite_loop_contained(vm):
    r = run(vm, ["node", "-e", "while (true) {}"], limits={"wasm_deadline": 0.5})
    assert (r.exit_code, r.stderr) == (137, "node: time limit exceeded (wasm_deadline=0.5s)\n")


def test_memory_bomb_contained(vm):
    r = run(
        vm,
        ["node", "-e", "const a = []; while (true) a.push(new Array(1e6).fill(1))"],
        limits={"wasm_memory": 64 * 1024 * 1024},
    )
    assert r.exit_code == 137
    assert r.stderr.splitlines()[-1] == "node: memory limit exceeded (wasm_memory=67108864)"
    assert run(vm, ["node", "-e", "console.log('ok')"]).stdout == "ok\n"


def test_help_and_bad_option(vm):
    r = run(vm, ["node", "--help"])
    assert r.exit_code == 0 and r.stdout.startswith("Usage: node ")
    r = run(vm, ["node", "--bogus"])
    assert (r.exit_code, r.stderr) == (9, "node: bad option: --bogus\n")


def test_missing_script(vm):
    r = run(vm, ["node", "nope.js"])
    assert (r.exit_code, r.stderr) == (
        1,
        "node: cannot open 'nope.js': No such file or directory\n",
    )


def test_shell_round_trip_and_pipes(vm):
    r = vm.exec(
        'cd /work && echo hi > f; node -e \'console.log(require("fs").readFileSync("f", "utf8").trim())\''
    )
    assert (r.exit_code, r.stdout) == (0, "hi\n")
    r = vm.exec("node -e 'let i = 0; while (true) console.log(i++)' | head -n 3")
    assert (r.exit_code, r.stdout) == (0, "0\n1\n2\n")
    r = vm.exec("yes | node -e 'console.log(std.in.getline())'")
    assert (r.exit_code, r.stdout) == (0, "y\n")
