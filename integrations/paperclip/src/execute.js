// execute(ctx): one Paperclip heartbeat run of a pocketos_local agent.
import { pythonCommand, redactEnv, runnerEnv, signalGroup, startRunner } from "./runner.js";
import { runOnWarm, warmServer } from "./warm.js";

const DEFAULT_GRACE_SEC = 20;

// The Paperclip API base the runner's tools call, as the server itself computes it.
export function apiBaseUrl(env = process.env) {
  const explicit = env.PAPERCLIP_RUNTIME_API_URL || env.PAPERCLIP_API_URL;
  if (explicit) return explicit.replace(/\/+$/, "");
  let host = env.PAPERCLIP_LISTEN_HOST || env.HOST || "127.0.0.1";
  if (host === "0.0.0.0" || host === "::") host = "127.0.0.1";
  const port = env.PAPERCLIP_LISTEN_PORT || env.PORT || "3100";
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

export function buildEnvelope(ctx, env = process.env) {
  const agent = ctx.agent || {};
  return {
    runId: ctx.runId || "",
    agent: { id: agent.id || "", companyId: agent.companyId || "", name: agent.name || "" },
    config: ctx.config || agent.adapterConfig || {},
    context: ctx.context || {},
    runtime: ctx.runtime || {},
    apiUrl: apiBaseUrl(env),
    authToken: ctx.authToken || "",
  };
}

function signalPid(pid, sig) {
  try {
    process.kill(-pid, sig);
  } catch {
    // already gone
  }
}

function seconds(value, fallback) {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

export async function execute(ctx) {
  const config = ctx.config || (ctx.agent && ctx.agent.adapterConfig) || {};
  const command = pythonCommand(config);
  const args = ["-m", "pocketos.paperclip"];
  const env = runnerEnv(config);
  const envelope = buildEnvelope(ctx);
  const log = ctx.onLog ? ctx.onLog : async () => {};
  let chain = Promise.resolve();
  const push = (stream, text) => {
    chain = chain.then(() => log(stream, text)).catch(() => {});
    return chain;
  };
  if (ctx.onMeta) {
    await ctx.onMeta({
      adapterType: "pocketos_local",
      command,
      commandArgs: args,
      commandNotes: [
        config.warmRunner === false
          ? "JSON envelope on stdin (run JWT included; it never enters the VM)"
          : "forked from a warm runner; JSON envelope over its private socket (run JWT included; it never enters the VM)",
      ],
      env: redactEnv(env),
    });
  }
  let result = null;
  let stderrTail = "";
  const onLine = (line) => {
    push("stdout", line + "\n");
    let parsed = false;
    if (line.startsWith("{")) {
      try {
        const obj = JSON.parse(line);
        parsed = true;
        if (obj && obj.type === "result") result = obj;
      } catch {
        // plain text from the runner: logged as is
      }
    }
    // a warm runner's stderr arrives in this stream: keep its tail for the error message
    if (!parsed) stderrTail = (stderrTail + line + "\n").slice(-4000);
  };
  // a warm runner (forked per run) unless the config says no; the direct start otherwise
  let run = null;
  if (config.warmRunner !== false) {
    try {
      const entry = await warmServer(command, env);
      const started = await runOnWarm(entry, envelope, env, { onLine });
      run = { pid: started.pid, done: started.done, signal: (sig) => signalPid(started.pid, sig) };
    } catch (e) {
      push("stderr", `[pocketos] warm runner unavailable (${e.message}); starting the runner directly\n`);
      run = null;
    }
  }
  if (run === null) {
    const { child, done } = startRunner({
      command,
      args,
      env,
      input: JSON.stringify(envelope),
      onLine,
      onStderr(text) {
        stderrTail = (stderrTail + text).slice(-4000);
        push("stderr", text);
      },
    });
    run = { pid: child.pid, done, signal: (sig) => signalGroup(child, sig) };
  }
  if (run.pid !== undefined && ctx.onSpawn) {
    await ctx.onSpawn({ pid: run.pid, processGroupId: run.pid, startedAt: new Date().toISOString() });
  }
  let timedOut = false;
  let cancelled = false;
  let killTimer = null;
  const stop = () => {
    run.signal("SIGTERM");
    if (!killTimer) {
      const grace = seconds(config.graceSec, DEFAULT_GRACE_SEC) * 1000;
      killTimer = setTimeout(() => run.signal("SIGKILL"), grace);
    }
  };
  const timeoutSec = seconds(config.timeoutSec, 0);
  const timer =
    timeoutSec > 0
      ? setTimeout(() => {
          timedOut = true;
          push("stderr", `[pocketos] timed out after ${timeoutSec}s; stopping the agent\n`);
          stop();
        }, timeoutSec * 1000)
      : null;
  const onAbort = () => {
    cancelled = true;
    stop();
  };
  if (ctx.signal) {
    if (ctx.signal.aborted) onAbort();
    else ctx.signal.addEventListener("abort", onAbort, { once: true });
  }
  const { code, signal, spawnError } = await run.done;
  if (timer) clearTimeout(timer);
  if (killTimer) clearTimeout(killTimer);
  if (ctx.signal) ctx.signal.removeEventListener("abort", onAbort);
  await chain;
  if (spawnError) {
    const msg = `cannot start the pocketos runner '${command}': ${spawnError.message}`;
    await log("stderr", msg + "\n");
    return { exitCode: null, signal: null, timedOut: false, errorMessage: msg, errorCode: "pocketos_command" };
  }
  if (!result) {
    const tail = stderrTail.trim().split("\n").slice(-5).join("\n");
    return {
      exitCode: code,
      signal: signal || null,
      timedOut,
      errorMessage:
        timedOut || cancelled
          ? `the runner stopped before reporting a result${tail ? `: ${tail}` : ""}`
          : `the pocketos runner ${signal || code !== null ? `exited with ${signal || code}` : "ended"} without a result${tail ? `: ${tail}` : ""}`,
      errorCode: "pocketos_runner",
    };
  }
  const { type: _type, ts: _ts, ...fields } = result;
  fields.signal = fields.signal ?? null;
  fields.timedOut = timedOut || Boolean(fields.timedOut);
  if (typeof fields.exitCode !== "number") fields.exitCode = code;
  if (timedOut) {
    fields.errorMessage = `timed out after ${timeoutSec}s`;
    fields.errorCode = "timeout";
  }
  return fields;
}
