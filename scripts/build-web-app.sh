#!/usr/bin/env bash
# Builds the web app (web-app/frontend: Vite + TypeScript + Preact) into web-app/frontend/dist, which the
# marquee binary embeds when it is next built. Installs its npm packages first (npm ci, pinned by
# package-lock.json) when they are missing or older than the lock file. Needs Node 20.19 or newer
# (scripts/install-node.sh puts one in ~/.cache/marquee-tools/node where the machine's is older).
set -euo pipefail
cd "$(dirname "$0")/../web-app/frontend"
[[ -x "$HOME/.cache/marquee-tools/node/bin/node" ]] && export PATH="$HOME/.cache/marquee-tools/node/bin:$PATH"
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "Installing the web app's npm packages (npm ci)…"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "Building the web app (type check, then vite build into web-app/frontend/dist)…"
npm run --silent build
