// Unit tests of the adapter module: `node --test test/` (no dependencies).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { mkdtempSync, writeFileSync, chmodSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { createServerAdapter } from "../src/index.js";
import { apiBaseUrl, buildEnvelope } from "../src/execute.js";
import { redactEnv, runnerEnv } from "../src/runner.js";

const require = createRequire(import.meta.url);
const parser = require("../src/ui-parser.cjs");
const adapter = createServerAdapter();

function fakeRunner(body) {
  const dir = mkdtempSync(join(tmpdir(), "pocketos-adapter-"));
  const path = join(dir, "python");
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return { path, dir };
}

function ctxFor(command, extra = {}) {
  const logs = [];
  const meta = [];
  const spawned = [];
  const ctx = {
    runId: "run-1",
    agent: { id: "a1", companyId: "c1", name: "bot", adapterConfig: {} },
    config: { command, warmRunner: false, env: { POCKETOS_API_KEY: "secret", POCKETOS_MODEL: "m" }, ...extra },
    context: { issueId: "i1" },
    runtime: { sessionParams: { sessionId: "ses-1" } },
    authToken: "jwt",
    onLog: async (stream, chunk) => {
      logs.push([stream, chunk]);
    },
    onMeta: async (m) => meta.push(m),
    onSpawn: async (s) => spawned.push(s),
  };
  return { ctx, logs, meta, spawned };
}

test("the module has the shape Paperclip loads", () => {
  assert.equal(adapter.type, "pocketos_local");
  assert.equal(adapter.supportsLocalAgentJwt, true);
  for (const f of ["execute", "testEnvironment", "getConfigSchema"]) {
    assert.equal(typeof adapter[f], "function", f);
  }
  assert.equal(adapter.sessionManagement.supportsSessionResume, true);
  assert.equal(adapter.sessionManagement.nativeContextManagement, "confirmed");
  assert.match(adapter.agentConfigurationDoc, /## Keys/);
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url)));
  assert.equal(pkg.type, "module");
  assert.deepEqual(pkg.paperclip, { adapterUiParser: "1.x" });
  assert.deepEqual(pkg.dependencies, undefined);
});

test("the config schema is a form of known field types, every key documented", () => {
  const { fields } = adapter.getConfigSchema();
  const types = new Set(["text", "select", "toggle", "number", "textarea", "combobox"]);
  const keys = fields.map((f) => f.key);
  assert.equal(new Set(keys).size, keys.length);
  for (const f of fields) {
    assert.ok(types.has(f.type), f.key);
    assert.ok(f.label, f.key);
    assert.ok(adapter.agentConfigurationDoc.includes("`" + f.key + "`"), f.key);
  }
  for (const k of ["command", "model", "workspacePath", "policy", "writablePaths", "allowedHosts", "agent"]) {
    assert.ok(keys.includes(k), k);
  }
});

test("session codec keeps only the session keys and refuses garbage", () => {
  const c = adapter.sessionCodec;
  const p = { sessionId: "ses-1", taskKey: "t", workspacePath: "/w", workspaceDigest: "d", junk: 1 };
  assert.deepEqual(c.serialize(p), { sessionId: "ses-1", taskKey: "t", workspacePath: "/w", workspaceDigest: "d" });
  assert.deepEqual(c.deserialize(JSON.stringify(p)), c.serialize(p));
  assert.equal(c.deserialize("{bad"), null);
  assert.equal(c.deserialize({ taskKey: "t" }), null);
  assert.equal(c.serialize(null), null);
  assert.equal(c.getDisplayId(p), "ses-1");
});

test("API base follows the server's own precedence", () => {
  assert.equal(apiBaseUrl({ PAPERCLIP_RUNTIME_API_URL: "http://a/", PAPERCLIP_API_URL: "http://b" }), "http://a");
  assert.equal(apiBaseUrl({ PAPERCLIP_API_URL: "http://b" }), "http://b");
  assert.equal(apiBaseUrl({ PAPERCLIP_LISTEN_HOST: "0.0.0.0", PAPERCLIP_LISTEN_PORT: "4000" }), "http://127.0.0.1:4000");
  assert.equal(apiBaseUrl({}), "http://127.0.0.1:3100");
});

test("the runner env holds the config env and none of the server's secrets", () => {
  const env = runnerEnv(
    { env: { POCKETOS_API_KEY: "k", B: { type: "plain", value: "v" }, N: 3, X: {} } },
    { PATH: "/bin", DATABASE_URL: "postgres://x", PAPERCLIP_AGENT_JWT_SECRET: "s", HOME: "/h" },
  );
  assert.deepEqual(env, { PATH: "/bin", HOME: "/h", POCKETOS_API_KEY: "k", B: "v", N: "3", PYTHONUNBUFFERED: "1" });
  assert.equal(redactEnv(env).POCKETOS_API_KEY, "***");
  assert.equal(redactEnv(env).PATH, "/bin");
});

test("the envelope carries config, context, session and the run JWT", () => {
  const { ctx } = ctxFor("python3");
  const e = buildEnvelope(ctx, { PAPERCLIP_API_URL: "http://pc" });
  assert.deepEqual(Object.keys(e).sort(), ["agent", "apiUrl", "authToken", "config", "context", "runId", "runtime"]);
  assert.equal(e.authToken, "jwt");
  assert.equal(e.apiUrl, "http://pc");
  assert.deepEqual(e.runtime, { sessionParams: { sessionId: "ses-1" } });
});

test("execute streams lines in order and returns the runner's result", async () => {
  const { path } = fakeRunner(
    [
      'read envelope',
      'echo \'{"type":"init","sessionId":"ses-1"}\'',
      "echo 'plain text'",
      'echo "warn" >&2',
      'echo \'{"type":"result","exitCode":0,"signal":null,"timedOut":false,"usage":{"inputTokens":5,"outputTokens":1},"usageBasis":"per_run","costUsd":0.5,"sessionId":"ses-1","ts":1}\'',
    ].join("\n"),
  );
  const { ctx, logs, meta, spawned } = ctxFor(path);
  const res = await adapter.execute(ctx);
  assert.deepEqual(res, {
    exitCode: 0,
    signal: null,
    timedOut: false,
    usage: { inputTokens: 5, outputTokens: 1 },
    usageBasis: "per_run",
    costUsd: 0.5,
    sessionId: "ses-1",
  });
  const out = logs.filter(([s]) => s === "stdout").map(([, c]) => c);
  assert.deepEqual(out.slice(0, 2), ['{"type":"init","sessionId":"ses-1"}\n', "plain text\n"]);
  assert.ok(logs.some(([s, c]) => s === "stderr" && c === "warn\n"));
  assert.equal(meta[0].adapterType, "pocketos_local");
  assert.deepEqual(meta[0].commandArgs, ["-m", "pocketos.paperclip"]);
  assert.equal(meta[0].env.POCKETOS_API_KEY, "***");
  assert.equal(spawned.length, 1);
  assert.equal(typeof spawned[0].pid, "number");
});

test("the envelope reaches the runner on stdin, not in its environment", async () => {
  const { path, dir } = fakeRunner(`cat > "${"$(dirname $0)"}/stdin"; env > "${"$(dirname $0)"}/env"`);
  const { ctx } = ctxFor(path);
  const res = await adapter.execute(ctx);
  assert.match(res.errorMessage, /without a result/);
  const got = JSON.parse(readFileSync(join(dir, "stdin"), "utf8"));
  assert.equal(got.authToken, "jwt");
  assert.ok(!readFileSync(join(dir, "env"), "utf8").includes("jwt"));
});

test("cancel sends SIGTERM and returns what the runner reports", async () => {
  const { path } = fakeRunner(
    [
      "trap 'echo \"{\\\"type\\\":\\\"result\\\",\\\"exitCode\\\":1,\\\"errorMessage\\\":\\\"run cancelled\\\",\\\"errorCode\\\":\\\"cancelled\\\"}\"; exit 1' TERM",
      "echo '{\"type\":\"init\"}'",
      "while :; do sleep 0.05; done",
    ].join("\n"),
  );
  const { ctx, logs } = ctxFor(path);
  const ac = new AbortController();
  ctx.signal = ac.signal;
  ctx.onLog = async (stream, chunk) => {
    logs.push([stream, chunk]);
    if (chunk.includes('"init"')) ac.abort();
  };
  const res = await adapter.execute(ctx);
  assert.equal(res.errorCode, "cancelled");
  assert.equal(res.exitCode, 1);
});

test("timeoutSec stops a runner that never ends", async () => {
  const { path } = fakeRunner("while :; do sleep 0.05; done");
  const { ctx } = ctxFor(path, { timeoutSec: 0.2, graceSec: 0.2 });
  const res = await adapter.execute(ctx);
  assert.equal(res.timedOut, true);
  assert.equal(res.errorCode, "pocketos_runner");
});

test("a command that does not exist is a clear failure", async () => {
  const { ctx } = ctxFor("/nonexistent/python");
  const res = await adapter.execute(ctx);
  assert.equal(res.errorCode, "pocketos_command");
  assert.match(res.errorMessage, /cannot start the pocketos runner '\/nonexistent\/python': spawn \/nonexistent\/python ENOENT/);
});

test("testEnvironment fails with a hint when the interpreter cannot run pocketos", async () => {
  const res = await adapter.testEnvironment({ config: { command: "/nonexistent/python" } });
  assert.equal(res.status, "fail");
  assert.equal(res.adapterType, "pocketos_local");
  assert.equal(res.checks[0].code, "pocketos_command_failed");
  assert.match(res.checks[0].hint, /Python interpreter that can import pocketos/);
});

test("testEnvironment reports the runner's checks", async () => {
  const { path } = fakeRunner(
    `cat >/dev/null; echo '{"checks":[{"code":"pocketos_policy_ok","level":"info","message":"ok"},{"code":"pocketos_model_endpoint_unreachable","level":"warn","message":"down"}]}'`,
  );
  const res = await adapter.testEnvironment({ config: { command: path } });
  assert.equal(res.status, "warn");
  assert.deepEqual(
    res.checks.map((c) => c.code),
    ["pocketos_command", "pocketos_policy_ok", "pocketos_model_endpoint_unreachable"],
  );
});

test("ui parser turns runner lines into transcript entries", () => {
  const ts = "2026-01-01T00:00:00Z";
  const p = parser.createStdoutParser();
  assert.deepEqual(p.parseLine('{"type":"init","model":"m","sessionId":"s"}', ts), [
    { kind: "init", ts, model: "m", sessionId: "s" },
  ]);
  assert.deepEqual(parser.parseStdoutLine('{"type":"tool_call","toolUseId":"c1","name":"bash: ls","input":{"command":"ls"}}', ts), [
    { kind: "tool_call", ts, name: "bash: ls", input: { command: "ls" }, toolUseId: "c1" },
  ]);
  assert.deepEqual(parser.parseStdoutLine('{"type":"tool_result","toolUseId":"c1","content":"x","isError":true}', ts), [
    { kind: "tool_result", ts, toolUseId: "c1", content: "x", isError: true },
  ]);
  assert.deepEqual(parser.parseStdoutLine('{"type":"denied","capability":"fs.write","resource":"/etc/x"}', ts), [
    { kind: "system", ts, text: "denied by policy: fs.write on /etc/x" },
  ]);
  assert.deepEqual(
    parser.parseStdoutLine('{"type":"result","exitCode":0,"summary":"ok","usage":{"inputTokens":3,"outputTokens":2},"costUsd":0.1}', ts),
    [{ kind: "result", ts, text: "ok", inputTokens: 3, outputTokens: 2, cachedTokens: 0, costUsd: 0.1, subtype: "success", isError: false, errors: [] }],
  );
  assert.deepEqual(parser.parseStdoutLine("not json", ts), [{ kind: "stdout", ts, text: "not json" }]);
  assert.deepEqual(parser.parseStdoutLine("   ", ts), []);
});

test("ui parser works as a function body with exports and module, like Paperclip's worker", () => {
  const src = readFileSync(new URL("../src/ui-parser.cjs", import.meta.url), "utf8");
  const module = { exports: {} };
  new Function("exports", "module", src)(module.exports, module);
  assert.equal(typeof module.exports.parseStdoutLine, "function");
});
