// Starting the Python runner (`python -m pocketos.paperclip`) as a child process.
import { spawn } from "node:child_process";

// Variables of the Paperclip server's own environment a runner may see; everything else
// (Paperclip's secrets, database URL, ...) stays out.
const PASS_ENV = ["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "USER", "SYSTEMROOT"];

export function pythonCommand(config) {
  const c = config && typeof config.command === "string" ? config.command.trim() : "";
  return c || "python3";
}

export function envValue(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === "object" && "value" in v) return envValue(v.value);
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return null;
}

// The child's environment: a few harmless server variables, then the config's env.
export function runnerEnv(config, base = process.env) {
  const env = {};
  for (const k of PASS_ENV) {
    if (typeof base[k] === "string") env[k] = base[k];
  }
  const extra = config && typeof config.env === "object" && config.env ? config.env : {};
  for (const [k, v] of Object.entries(extra)) {
    const s = envValue(v);
    if (s !== null) env[k] = s;
  }
  env.PYTHONUNBUFFERED = "1";
  return env;
}

const SECRET_NAME = /(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)/i;

// The env shown in Paperclip's invocation record: secret-looking values hidden.
export function redactEnv(env) {
  const out = {};
  for (const [k, v] of Object.entries(env)) out[k] = SECRET_NAME.test(k) ? "***" : v;
  return out;
}

// Spawn the runner in its own process group; resolves when it has exited.
// onLine(line) gets each stdout line in order; onStderr(text) the stderr chunks.
export function startRunner({ command, args, env, cwd, input, onLine, onStderr }) {
  const child = spawn(command, args, {
    cwd,
    env,
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
  });
  const done = new Promise((resolve) => {
    let buf = "";
    let spawnError = null;
    child.on("error", (err) => {
      spawnError = err;
    });
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        onLine(line);
      }
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => onStderr(chunk));
    child.on("close", (code, signal) => {
      if (buf) onLine(buf);
      resolve({ code, signal, spawnError });
    });
  });
  child.stdin.on("error", () => {});
  if (child.pid !== undefined) child.stdin.end(input);
  return { child, done };
}

// Signal the runner's whole process group (falls back to the child alone).
export function signalGroup(child, sig) {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    try {
      child.kill(sig);
    } catch {
      // already gone
    }
  }
}
