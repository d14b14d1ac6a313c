#!/usr/bin/env bash
# Installs a software Vulkan driver (Mesa's lavapipe) for the WebGPU correctness test
# (test/unit/webgpu-correctness.test.ts), which runs the WebGPU backend on the CPU.
#
# Dawn, the WebGPU implementation of the `webgpu` npm package, offers no adapter on the lavapipe
# of Debian 12's own Mesa 22.3 (a Vulkan 1.1 driver; Dawn: "Vulkan shaderUniform*ArrayDynamicIndexing
# required"), so on Debian bookworm the driver comes from bookworm-backports (Mesa 25, where it does). Elsewhere the distribution's own mesa-vulkan-drivers is
# taken as it is.
#
# Never fails the caller: without root or apt, or when the install fails, it says why and exits 0,
# and the test then skips with its reason. Idempotent: an installed backports driver returns at once.
set -uo pipefail

log() { printf '[vulkan setup] %s\n' "$*" >&2; }

installed_version() { dpkg-query -W -f='${Status} ${Version}\n' mesa-vulkan-drivers 2>/dev/null | awk '$3 == "installed" { print $4 }'; }

codename=""
[[ -r /etc/os-release ]] && codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
have="$(installed_version)"

if [[ -n "$have" ]] && { [[ "$codename" != bookworm ]] || [[ "$have" == *bpo* ]]; }; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
  log "no apt-get here: mesa-vulkan-drivers not installed, the WebGPU correctness test will skip"
  exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
  log "not root: mesa-vulkan-drivers not installed, the WebGPU correctness test will skip (as root: bash $0)"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
target=()
if [[ "$codename" == bookworm ]]; then
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    log "adding the bookworm-backports source"
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      >/etc/apt/sources.list.d/bookworm-backports.sources
  fi
  target=(-t bookworm-backports)
fi
log "installing mesa-vulkan-drivers ${target[*]}"
if ! apt-get update -qq >/dev/null 2>&1; then
  log "apt-get update failed: the WebGPU correctness test will skip"
  exit 0
fi
if ! apt-get install -y -qq --no-install-recommends "${target[@]}" mesa-vulkan-drivers >/tmp/ttl-vulkan-setup.log 2>&1; then
  log "apt-get install mesa-vulkan-drivers failed (see /tmp/ttl-vulkan-setup.log): the WebGPU correctness test will skip"
  exit 0
fi
log "installed mesa-vulkan-drivers $(installed_version)"
exit 0
