#!/usr/bin/env bash
# Installs the system packages einattn needs on a fresh Debian 12 / Ubuntu machine
# that has no usable WebGPU adapter.
#
# Why: Dawn (inside the `webgpu` npm package) needs a Vulkan driver. Without a GPU
# that is Mesa's software rasteriser, lavapipe. Debian 12's stock lavapipe (Mesa
# 22.3) is rejected by Dawn ("shaderUniform*ArrayDynamicIndexing required"); the
# one in bookworm-backports (Mesa 25) works. We also install the OpenGL ES / EGL
# libraries, the last-resort compatibility adapter.
#
# Skips everything when a Vulkan driver other than stock lavapipe is present, or
# when EINATTN_SKIP_SYSTEM=1. Needs root (or sudo) and Debian's archives.
set -euo pipefail

log() { printf '[setup-system] %s\n' "$*"; }

if [ "${EINATTN_SKIP_SYSTEM:-0}" = "1" ]; then
  log "EINATTN_SKIP_SYSTEM=1: not installing system packages"; exit 0
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    log "not root and no sudo: install mesa-vulkan-drivers and libvulkan1 (Mesa >= 24) yourself"; exit 1
  fi
fi

if ! command -v apt-get >/dev/null 2>&1; then
  log "no apt-get here: install a Vulkan driver (Mesa >= 24 lavapipe, or your GPU's) by hand"; exit 0
fi

mesa_version() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true; }
have=$(mesa_version)
case "$have" in
  2[4-9].*|[3-9][0-9].*)
    log "mesa-vulkan-drivers $have already installed (lavapipe new enough for Dawn)"; exit 0 ;;
esac

. /etc/os-release
codename="${VERSION_CODENAME:-}"
if [ "${ID:-}" = "debian" ] && [ "$codename" = "bookworm" ]; then
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    log "adding bookworm-backports (Mesa 25 lavapipe; Debian 12's Mesa 22.3 is too old for Dawn)"
    echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/einattn-backports.list >/dev/null
  fi
  log "apt-get update"
  $SUDO apt-get update -qq
  log "installing mesa-vulkan-drivers libvulkan1 from bookworm-backports, EGL/GLES from bookworm"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    -t bookworm-backports libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri >/dev/null || \
    log "EGL/GLES packages not installed (only the OpenGL ES fallback needs them)"
else
  log "installing mesa-vulkan-drivers libvulkan1 from ${ID:-this distribution}'s archive"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers libvulkan1 >/dev/null
fi
log "installed mesa-vulkan-drivers $(mesa_version)"
