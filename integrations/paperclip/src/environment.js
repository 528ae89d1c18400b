// testEnvironment(ctx): can this configuration run? Asks the interpreter in `command` to
// import pocketos, parse the config (policy included) and reach the model endpoint.
import { pythonCommand, runnerEnv, signalGroup, startRunner } from "./runner.js";

const CHECK_TIMEOUT_MS = 60_000;

export function summarize(checks) {
  if (checks.some((c) => c.level === "error")) return "fail";
  if (checks.some((c) => c.level === "warn")) return "warn";
  return "pass";
}

export async function testEnvironment(ctx) {
  const config = (ctx && ctx.config) || {};
  const command = pythonCommand(config);
  const checks = [];
  let out = "";
  let err = "";
  const { child, done } = startRunner({
    command,
    args: ["-m", "pocketos.paperclip", "check"],
    env: runnerEnv(config),
    input: JSON.stringify({ config }),
    onLine(line) {
      out += line + "\n";
    },
    onStderr(text) {
      err = (err + text).slice(-2000);
    },
  });
  const timer = setTimeout(() => signalGroup(child, "SIGKILL"), CHECK_TIMEOUT_MS);
  const { code, spawnError } = await done;
  clearTimeout(timer);
  let report = null;
  if (!spawnError && code === 0) {
    try {
      report = JSON.parse(out.trim().split("\n").pop());
    } catch {
      report = null;
    }
  }
  if (!report) {
    const why = spawnError ? spawnError.message : `exit status ${code}: ${err.trim().split("\n").pop() || "no output"}`;
    checks.push({
      code: "pocketos_command_failed",
      level: "error",
      message: `'${command} -m pocketos.paperclip check' failed (${why})`,
      hint: "Set 'command' to the absolute path of a Python interpreter that can import pocketos (pip install pocketos).",
    });
  } else {
    checks.push({ code: "pocketos_command", level: "info", message: `${command} runs the pocketos runner` });
    for (const c of report.checks || []) checks.push(c);
  }
  return {
    adapterType: "pocketos_local",
    status: summarize(checks),
    checks,
    testedAt: new Date().toISOString(),
  };
}
