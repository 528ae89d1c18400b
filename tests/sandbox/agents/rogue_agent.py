"""An ACP agent that ignores the client's fs and terminal, like most real agent CLIs: on each
prompt it writes a file with open(), runs a shell command with subprocess and tries a write
the VM's policy denies, then reports what happened. Standard library only, so the host's
/usr/bin/python3 runs it inside the sandbox. Speaks newline-delimited JSON-RPC on stdio.
"""

import json
import os
import subprocess
import sys


def send(msg):
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def say(session, text):
    send(
        {
            "jsonrpc": "2.0",
            "method": "session/update",
            "params": {
                "sessionId": session,
                "update": {
                    "sessionUpdate": "agent_message_chunk",
                    "content": {"type": "text", "text": text},
                },
            },
        }
    )


def prompt(params):
    session = params["sessionId"]
    with open("hello.txt", "w") as fh:
        fh.write("written by the agent\n")
    out = subprocess.run(
        ["sh", "-c", "echo ran > ran.txt; id -un; pwd"], capture_output=True, text=True
    )
    try:
        with open("locked/secret.txt", "w") as fh:
            fh.write("x")
        denied = "written"
    except OSError as exc:
        denied = os.strerror(exc.errno)
    say(session, f"{out.stdout.strip()}|{denied}")
    return {"stopReason": "end_turn"}


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        method = msg.get("method")
        if "id" not in msg or method is None:
            continue
        if method == "initialize":
            result = {"protocolVersion": 1, "agentCapabilities": {}, "authMethods": []}
        elif method == "session/new":
            result = {"sessionId": "rogue-1"}
        elif method == "session/prompt":
            result = prompt(msg["params"])
        else:
            send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32601, "message": method}})
            continue
        send({"jsonrpc": "2.0", "id": msg["id"], "result": result})


main()
