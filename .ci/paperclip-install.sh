#!/usr/bin/env bash
# Install a real Paperclip (paperclipai from npm) and Node 26 for the adapter's end-to-end test.
# Idempotent: a no-op when the pinned versions are already installed. npm's cache lives under
# ~/.cache/npm so a CI cache of ~/.cache makes the install fast. Exit status 0 when installed.
set -uo pipefail
PAPERCLIP_VERSION="${POCKETOS_PAPERCLIP_VERSION:-2026.916.1}"
NODE_VERSION="${POCKETOS_PAPERCLIP_NODE:-26}"
DIR="${POCKETOS_PAPERCLIP_DIR:-$HOME/.cache/pocketos/paperclip}"
CACHE="${npm_config_cache:-$HOME/.cache/npm}"
STAMP="$DIR/installed-$PAPERCLIP_VERSION-node$NODE_VERSION"

[ -f "$STAMP" ] && exit 0
command -v npm >/dev/null 2>&1 || { echo "paperclip-install: npm is not installed" >&2; exit 1; }
mkdir -p "$DIR"
npm install --prefix "$DIR/nodepkg" "node@$NODE_VERSION" --cache "$CACHE" \
    --no-audit --no-fund --loglevel=error >"$DIR/node-install.log" 2>&1 \
    || { echo "paperclip-install: npm install node@$NODE_VERSION failed (see $DIR/node-install.log)" >&2; exit 1; }
PATH="$DIR/nodepkg/node_modules/.bin:$PATH" npm install --prefix "$DIR/app" \
    "paperclipai@$PAPERCLIP_VERSION" --cache "$CACHE" --no-audit --no-fund --loglevel=error \
    >"$DIR/app-install.log" 2>&1 \
    || { echo "paperclip-install: npm install paperclipai@$PAPERCLIP_VERSION failed (see $DIR/app-install.log)" >&2; exit 1; }
[ -x "$DIR/app/node_modules/.bin/paperclipai" ] || { echo "paperclip-install: no paperclipai binary" >&2; exit 1; }
touch "$STAMP"
