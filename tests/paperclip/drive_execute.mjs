// Drive the adapter's execute() with the real Python runner: `node drive_execute.mjs SPEC.json`.
// SPEC: {"ctx": {...execute context without callbacks}, "runs": N, "contexts": [ctx overrides],
//        "abortOn": "text"}  (abort the run when a log chunk contains the text)
// Prints one JSON line per run: {startedAt, endedAt (epoch ms), result, log}.
import { readFileSync } from "node:fs";
import { createServerAdapter } from "../../integrations/paperclip/src/index.js";
import { stopWarmServers } from "../../integrations/paperclip/src/warm.js";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const adapter = createServerAdapter();
const now = () => performance.timeOrigin + performance.now();
const runs = spec.runs || 1;
for (let i = 0; i < runs; i++) {
  // a pause between runs, as between heartbeats (spec.gapMs, default none)
  if (i > 0 && spec.gapMs) await new Promise((r) => setTimeout(r, spec.gapMs));
  const log = [];
  const override = (spec.contexts || [])[i] || {};
  const ac = new AbortController();
  const ctx = {
    ...spec.ctx,
    ...override,
    signal: ac.signal,
    onLog: async (stream, chunk) => {
      log.push([stream, chunk]);
      if (spec.abortOn && chunk.includes(spec.abortOn)) ac.abort();
    },
    onMeta: async () => {},
    onSpawn: async () => {},
  };
  const startedAt = now();
  const result = await adapter.execute(ctx);
  const endedAt = now();
  process.stdout.write(JSON.stringify({ startedAt, endedAt, result, log }) + "\n");
}
stopWarmServers();
