// Transcript parser for Paperclip's UI: turns the pocketos runner's JSON lines into transcript
// entries. Paperclip evaluates this file as a function body with `exports` and `module` inside
// a locked-down worker, so it is plain CommonJS without imports.
"use strict";

function str(v) {
  return typeof v === "string" ? v : v === undefined || v === null ? "" : JSON.stringify(v);
}

function num(v) {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

function parseStdoutLine(line, ts) {
  const text = String(line).replace(/\r?\n$/, "");
  if (!text.trim()) return [];
  let ev = null;
  if (text.charAt(0) === "{") {
    try {
      ev = JSON.parse(text);
    } catch (e) {
      ev = null;
    }
  }
  if (!ev || typeof ev !== "object" || typeof ev.type !== "string") {
    return [{ kind: "stdout", ts: ts, text: text }];
  }
  switch (ev.type) {
    case "init":
      return [{ kind: "init", ts: ts, model: str(ev.model), sessionId: str(ev.sessionId) }];
    case "assistant":
      return [{ kind: "assistant", ts: ts, text: str(ev.text) }];
    case "tool_call":
      return [{ kind: "tool_call", ts: ts, name: str(ev.name), input: ev.input, toolUseId: str(ev.toolUseId) }];
    case "tool_result":
      return [
        {
          kind: "tool_result",
          ts: ts,
          toolUseId: str(ev.toolUseId),
          content: str(ev.content),
          isError: Boolean(ev.isError),
        },
      ];
    case "denied":
      return [
        {
          kind: "system",
          ts: ts,
          text: "denied by policy: " + str(ev.capability) + " on " + str(ev.resource),
        },
      ];
    case "system":
      return [{ kind: ev.level === "error" ? "stderr" : "system", ts: ts, text: str(ev.message) }];
    case "result": {
      const usage = ev.usage || {};
      const failed = typeof ev.exitCode === "number" && ev.exitCode !== 0;
      return [
        {
          kind: "result",
          ts: ts,
          text: str(ev.summary || ev.errorMessage),
          inputTokens: num(usage.inputTokens),
          outputTokens: num(usage.outputTokens),
          cachedTokens: num(usage.cachedInputTokens),
          costUsd: num(ev.costUsd),
          subtype: failed ? "error" : "success",
          isError: failed,
          errors: ev.errorMessage ? [str(ev.errorMessage)] : [],
        },
      ];
    }
    default:
      return [{ kind: "stdout", ts: ts, text: text }];
  }
}

function createStdoutParser() {
  return { parseLine: parseStdoutLine };
}

exports.parseStdoutLine = parseStdoutLine;
exports.createStdoutParser = createStdoutParser;
