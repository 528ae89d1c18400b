// The agent form (getConfigSchema) and the configuration doc shown in Paperclip's UI.

export function getConfigSchema() {
  return {
    fields: [
      {
        key: "command",
        label: "Python interpreter",
        type: "text",
        required: true,
        default: "python3",
        hint: "Absolute path of a Python that can `import pocketos` (e.g. /opt/venv/bin/python).",
      },
      {
        key: "model",
        label: "Model",
        type: "combobox",
        options: [
          { label: "gpt-4.1-mini", value: "gpt-4.1-mini" },
          { label: "gpt-4.1", value: "gpt-4.1" },
          { label: "gpt-5-mini", value: "gpt-5-mini" },
          { label: "claude-sonnet-4-5", value: "claude-sonnet-4-5" },
          { label: "claude-haiku-4-5", value: "claude-haiku-4-5" },
        ],
        hint: "Overrides POCKETOS_MODEL. Changing it starts fresh sessions.",
      },
      {
        key: "workspacePath",
        label: "Workspace path in the VM",
        type: "text",
        default: "/workspace",
        hint: "The agent's working directory; kept per Paperclip task between runs.",
      },
      {
        key: "writablePaths",
        label: "Writable paths",
        type: "textarea",
        hint: "One VM path per line. When set, only these paths (and below) can be written.",
        group: "Policy",
      },
      {
        key: "allowedHosts",
        label: "Allowed hosts",
        type: "textarea",
        hint: "One host per line (api.github.com, *.example.com, host:port, https://host/path/). The network is closed otherwise.",
        group: "Policy",
      },
      {
        key: "policy",
        label: "Policy (JSON)",
        type: "textarea",
        hint: "A full pocketos policy: fs, network, child_process, env, process, tool. Invalid JSON fails the run.",
        group: "Policy",
      },
      {
        key: "agent",
        label: "Agent",
        type: "select",
        default: "pocketos",
        options: [
          { label: "Built-in pocketos agent", value: "pocketos" },
          { label: "ACP agent command", value: "acp" },
        ],
      },
      {
        key: "acpCommand",
        label: "ACP agent command",
        type: "text",
        hint: "The command line of an ACP agent, started on the host; its file and terminal access goes through the VM.",
        meta: { visibleWhen: { key: "agent", value: "acp" } },
      },
      { key: "timeoutSec", label: "Timeout (seconds)", type: "number", default: 0, hint: "0 = no limit." },
      { key: "maxTurns", label: "Max model turns per run", type: "number", hint: "Default 50." },
      {
        key: "stateDir",
        label: "State directory (host)",
        type: "text",
        hint: "Where sessions and workspace snapshots live; default .pocketos in Paperclip's folder for the agent (agentHome).",
        group: "Advanced",
      },
      {
        key: "warmRunner",
        label: "Warm runner",
        type: "toggle",
        default: true,
        hint: "Keep a Python runner with pocketos loaded and fork it per run (skips start-up).",
        group: "Advanced",
      },
      {
        key: "isolation",
        label: "Isolation",
        type: "select",
        default: "process",
        hint: "Process: the VM runs in a sandboxed worker process with hard memory, CPU and wall-clock limits; the agent loop and the Paperclip tools stay in the runner. In-process: faster, no worker.",
        options: [
          { label: "Process-isolated VM", value: "process" },
          { label: "In-process VM", value: "in-process" },
        ],
        group: "Advanced",
      },
    ],
  };
}

export const agentConfigurationDoc = `# pocketos_local

Runs the agent inside a **pocketos VM** on the Paperclip host: a virtual filesystem, a
bash-compatible shell, Python and JavaScript in WebAssembly, and a deny-by-default capability
policy. Paperclip keeps issues, budgets and approvals; pocketos only executes. Every run
restores the task's workspace, resumes the task's conversation, sends one prompt built from the
wake (issue, new comments), saves the workspace and reports tokens and cost.

The agent talks to Paperclip with typed host tools (\`paperclip_comment\`,
\`paperclip_update-issue\`, \`paperclip_get-issue\`, \`paperclip_list-comments\`,
\`paperclip_create-sub-issue\`). They run on the host with the run's JWT, which never enters the
VM. The agent is told to comment on what it did and to set the issue to \`done\`.

## Keys (top level of adapterConfig)

- \`command\` — absolute path of a Python interpreter that can \`import pocketos\`.
- \`model\` — model name; overrides \`POCKETOS_MODEL\`.
- \`timeoutSec\` — stop the run after this many seconds (0: no limit); \`graceSec\` before a kill.
- \`workspacePath\` — VM path of the workspace, the agent's working directory (default \`/workspace\`).
- \`env\` — environment of the runner, not of the VM: \`POCKETOS_PROVIDER\` (openai|anthropic),
  \`POCKETOS_BASE_URL\`, \`POCKETOS_API_KEY\` (bind it to a secret), \`POCKETOS_MODEL\`.
- \`policy\` — a pocketos policy object, or the same as JSON text. Domains left out take
  pocketos defaults: the VM's own files, processes and env are open, the network is closed, and
  host tools are limited to the \`paperclip\` toolkit. An invalid policy fails the run.
- \`writablePaths\` — VM paths that may be written (one per line); everything else read-only.
- \`allowedHosts\` — hosts the VM may reach (one per line); the network is closed otherwise.
- \`agent\` — \`pocketos\` (built-in agent, default) or \`acp\` with \`acpCommand\`.
- \`isolation\` — \`process\` (default): the VM runs in a sandboxed worker process with hard
  memory, CPU and wall-clock limits, while the agent loop and the Paperclip tools stay in the
  runner (tool calls cross the worker's pipe); \`in-process\`: the VM runs in the runner.
- \`maxTurns\`, \`instructions\` (extra text for the agent), \`stateDir\`.
- \`warmRunner\` — keep a runner with pocketos loaded and fork it per run (default true).

## Example policy

\`\`\`json
{
  "fs": {"default": "allow", "rules": [
    {"mode": "deny", "operations": ["write"], "paths": ["/**"]},
    {"mode": "allow", "operations": ["write"], "paths": ["/workspace/**", "/tmp/**"]}
  ]},
  "network": {"default": "deny", "rules": [
    {"mode": "allow", "hosts": ["api.github.com", "pypi.org"]}
  ]},
  "tool": {"default": "deny", "rules": [
    {"mode": "allow", "patterns": ["paperclip:*"]}
  ]}
}
\`\`\`

A denied action is a tool error the agent sees and a \`denied\` line in the run log, not a
failed run.
`;
