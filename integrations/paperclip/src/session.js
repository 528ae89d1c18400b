// How a pocketos session is stored by Paperclip between runs of one task.

const KEYS = ["sessionId", "taskKey", "workspacePath", "workspaceDigest"];

function clean(value) {
  if (!value || typeof value !== "object" || Array.isArray(value)) return null;
  if (typeof value.sessionId !== "string" || !value.sessionId) return null;
  const out = {};
  for (const k of KEYS) {
    if (typeof value[k] === "string" && value[k]) out[k] = value[k];
  }
  return out;
}

export const sessionCodec = {
  serialize(params) {
    return clean(params);
  },
  deserialize(raw) {
    let value = raw;
    if (typeof raw === "string") {
      try {
        value = JSON.parse(raw);
      } catch {
        return null;
      }
    }
    return clean(value);
  },
  getDisplayId(params) {
    const p = clean(params);
    return p ? p.sessionId : null;
  },
};

// pocketos keeps the whole conversation itself: resume always, never rotate on thresholds.
export const sessionManagement = {
  supportsSessionResume: true,
  nativeContextManagement: "confirmed",
  defaultSessionCompaction: {
    enabled: false,
    maxSessionRuns: 0,
    maxRawInputTokens: 0,
    maxSessionAgeHours: 0,
  },
};
