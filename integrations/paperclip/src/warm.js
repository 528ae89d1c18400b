// Warm runners: one `python -m pocketos.paperclip serve SOCKET` per (command, environment),
// kept by the Paperclip server process, forking one child per run. A run then skips Python's
// start-up and imports. Any failure falls back to starting the runner directly.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const READY_TIMEOUT_MS = 120_000;
const servers = new Map();

// the sockets' directories go with the process that made them
process.once("exit", () => {
  for (const e of servers.values()) rmSync(e.dir, { recursive: true, force: true });
});

function keyOf(command, env) {
  return JSON.stringify([command, Object.entries(env).sort()]);
}

function startServer(command, env) {
  const dir = mkdtempSync(join(tmpdir(), "pocketos-runner-"));
  const sock = join(dir, "runner.sock");
  const child = spawn(command, ["-m", "pocketos.paperclip", "serve", sock], {
    env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const entry = { child, sock, dir, ready: null, dead: false };
  const cleanup = () => {
    entry.dead = true;
    rmSync(dir, { recursive: true, force: true });
  };
  entry.ready = new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("the warm runner did not start in time"));
    }, READY_TIMEOUT_MS);
    child.on("error", (e) => {
      clearTimeout(timer);
      cleanup();
      reject(e);
    });
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d) => {
      out += d;
      if (out.includes("ready\n")) {
        clearTimeout(timer);
        resolve(entry);
      }
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d) => {
      err = (err + d).slice(-2000);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      cleanup();
      reject(new Error(`the warm runner exited with ${code}: ${err.trim().split("\n").pop() || ""}`));
    });
  });
  entry.ready.catch(() => {});
  // it must not keep Paperclip alive, and it exits when Paperclip goes (stdin closes)
  child.unref();
  child.stdout.unref?.();
  child.stderr.unref?.();
  child.stdin.unref?.();
  return entry;
}

// A ready warm runner for this command and environment, started on first use.
export async function warmServer(command, env) {
  const key = keyOf(command, env);
  let entry = servers.get(key);
  if (!entry || entry.dead) {
    for (const [k, e] of servers) {
      if (JSON.parse(k)[0] === command) {
        stop(e);
        servers.delete(k);
      }
    }
    entry = startServer(command, env);
    servers.set(key, entry);
  }
  try {
    return await entry.ready;
  } catch (e) {
    servers.delete(key);
    throw e;
  }
}

function stop(entry) {
  entry.child.kill("SIGTERM");
  entry.dead = true;
  rmSync(entry.dir, { recursive: true, force: true });
}

export function stopWarmServers() {
  for (const e of servers.values()) stop(e);
  servers.clear();
}

// Run one envelope on a warm runner. Resolves {pid} once the child answered, and `done`
// when its stream ended. Rejects when the runner cannot take the run.
export function runOnWarm(entry, envelope, env, { onLine }) {
  return new Promise((resolve, reject) => {
    const sock = connect(entry.sock);
    let buf = "";
    let pid = null;
    let doneResolve;
    const done = new Promise((r) => {
      doneResolve = r;
    });
    sock.setEncoding("utf8");
    sock.on("error", (e) => {
      if (pid === null) reject(e);
    });
    sock.on("connect", () => {
      sock.end(JSON.stringify({ ...envelope, processEnv: env }));
    });
    sock.on("data", (chunk) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (pid === null) {
          try {
            const first = JSON.parse(line);
            if (first.type === "spawn" && Number.isInteger(first.pid)) {
              pid = first.pid;
              resolve({ pid, done });
              continue;
            }
          } catch {
            // not the handshake
          }
          reject(new Error(`the warm runner answered: ${line.slice(0, 300)}`));
          sock.destroy();
          return;
        }
        onLine(line);
      }
    });
    sock.on("close", () => {
      if (buf && pid !== null) onLine(buf);
      if (pid === null) reject(new Error("the warm runner closed the connection"));
      doneResolve({ code: null, signal: null, spawnError: null });
    });
  });
}
