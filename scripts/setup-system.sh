#!/usr/bin/env bash
# Installs the system packages einattn and its test suite need on a fresh Debian 12 /
# Ubuntu machine.
#
# 1. A Vulkan driver, when there is no usable WebGPU adapter. Dawn (inside the `webgpu`
#    npm package) needs one; without a GPU that is Mesa's software rasteriser, lavapipe.
#    Debian 12's stock lavapipe (Mesa 22.3) is rejected by Dawn
#    ("shaderUniform*ArrayDynamicIndexing required"); the one in bookworm-backports
#    (Mesa 25) works. We also install the OpenGL ES / EGL libraries, the last-resort
#    compatibility adapter.
# 2. Chromium and a font, because the test suite (test/report/browser.test.ts) opens the
#    tour's HTML report in a headless browser, driven by playwright-core, to check that it
#    loads without console errors and that its charts render, and test/browser runs the web
#    pages on its WebGPU (SwiftShader without a GPU). We use the distribution's
#    chromium instead of Playwright's downloaded browsers; fonts-dejavu-core gives the
#    charts' labels glyphs to draw. Set EINATTN_CHROMIUM to use another Chromium or Chrome.
# 3. Jupyter's headless notebook runner (jupyter-nbconvert jupyter-client python3-nbclient
#    jupyter-core: ~4 MB download, ~16 MB installed), because the test suite (test/notebooks)
#    executes every notebook in examples/notebooks with `jupyter nbconvert --execute`. The
#    TypeScript kernel itself is the npm devDependency tslab, and scripts/notebook-kernel.sh
#    writes its kernel spec inside the project (.einattn/jupyter), so nothing Jupyter-related
#    is installed globally besides these packages. An existing Jupyter (e.g. from pip) that
#    has nbconvert is used as it is.
#
# Each part is skipped when already satisfied (Mesa >= 24 installed; chromium and
# fonts-dejavu-core installed; the Jupyter packages installed or `jupyter nbconvert` working),
# so a prepared machine needs no network. Everything is
# skipped when EINATTN_SKIP_SYSTEM=1. Needs root (or sudo) and the distribution's archives.
set -euo pipefail

log() { printf '[setup-system] %s\n' "$*"; }

if [ "${EINATTN_SKIP_SYSTEM:-0}" = "1" ]; then
  log "EINATTN_SKIP_SYSTEM=1: not installing system packages"; exit 0
fi

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]; }
mesa_version() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true; }

need_mesa=1
case "$(mesa_version)" in
  2[4-9].*|[3-9][0-9].*)
    log "mesa-vulkan-drivers $(mesa_version) already installed (lavapipe new enough for Dawn)"; need_mesa=0 ;;
esac

need_chromium=1
if [ -n "${EINATTN_CHROMIUM:-}" ]; then
  log "EINATTN_CHROMIUM=$EINATTN_CHROMIUM: not installing chromium"; need_chromium=0
elif command -v dpkg-query >/dev/null 2>&1 && { installed chromium || installed chromium-browser; } && installed fonts-dejavu-core; then
  log "chromium and fonts-dejavu-core already installed (for the report's headless-browser test)"; need_chromium=0
fi

need_notebooks=1
notebook_pkgs="jupyter-nbconvert jupyter-client python3-nbclient jupyter-core"
if command -v dpkg-query >/dev/null 2>&1 && installed jupyter-nbconvert && installed jupyter-client && installed python3-nbclient && installed jupyter-core; then
  log "$notebook_pkgs already installed (to execute the example notebooks)"; need_notebooks=0
elif command -v jupyter >/dev/null 2>&1 && jupyter nbconvert --version >/dev/null 2>&1; then
  log "jupyter nbconvert $(jupyter nbconvert --version 2>/dev/null) found on PATH: not installing Debian's Jupyter packages"; need_notebooks=0
fi

if [ "$need_mesa" = "0" ] && [ "$need_chromium" = "0" ] && [ "$need_notebooks" = "0" ]; then
  log "nothing to install"; exit 0
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    log "not root and no sudo: install these yourself:"
    [ "$need_mesa" = "1" ] && log "  mesa-vulkan-drivers and libvulkan1 (Mesa >= 24), for a software WebGPU adapter"
    [ "$need_chromium" = "1" ] && log "  chromium and fonts-dejavu-core, for the test suite's headless-browser check of the HTML report"
    [ "$need_notebooks" = "1" ] && log "  $notebook_pkgs, for the test suite's headless run of the example notebooks"
    exit 1
  fi
fi

if ! command -v apt-get >/dev/null 2>&1; then
  log "no apt-get here: install by hand a Vulkan driver (Mesa >= 24 lavapipe, or your GPU's) and"
  log "  Chromium (or Chrome; point EINATTN_CHROMIUM at it) for the test suite's check of the HTML report"
  log "  and Jupyter with nbconvert (e.g. pip install nbconvert nbclient) to execute the example notebooks"
  exit 0
fi

apt_install() { DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
updated=0
apt_update() {
  if [ "$updated" = "0" ]; then log "apt-get update"; $SUDO apt-get update -qq; updated=1; fi
}

. /etc/os-release
codename="${VERSION_CODENAME:-}"

if [ "$need_mesa" = "1" ]; then
  if [ "${ID:-}" = "debian" ] && [ "$codename" = "bookworm" ]; then
    if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
      log "adding bookworm-backports (Mesa 25 lavapipe; Debian 12's Mesa 22.3 is too old for Dawn)"
      echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/einattn-backports.list >/dev/null
    fi
    apt_update
    log "installing mesa-vulkan-drivers libvulkan1 from bookworm-backports, EGL/GLES from bookworm"
    apt_install -t bookworm-backports mesa-vulkan-drivers libvulkan1
    apt_install -t bookworm-backports libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri || \
      log "EGL/GLES packages not installed (only the OpenGL ES fallback needs them)"
  else
    apt_update
    log "installing mesa-vulkan-drivers libvulkan1 from ${ID:-this distribution}'s archive"
    apt_install mesa-vulkan-drivers libvulkan1
  fi
  log "installed mesa-vulkan-drivers $(mesa_version)"
fi

if [ "$need_chromium" = "1" ]; then
  apt_update
  # Debian ships a real `chromium` package (~120 MB download, ~415 MB installed). Ubuntu
  # has only `chromium-browser`, a wrapper around the snap, which does not run everywhere
  # (e.g. in containers); there, set EINATTN_CHROMIUM to a Chrome or Chromium binary instead.
  log "installing chromium fonts-dejavu-core (the test suite checks the HTML report in a headless browser)"
  if apt-cache show chromium >/dev/null 2>&1 && [ -n "$(apt-cache policy chromium | sed -n 's/^ *Candidate: *//p' | grep -v '(none)')" ]; then
    apt_install chromium fonts-dejavu-core
    log "installed chromium $(dpkg-query -W -f='${Version}' chromium)"
  elif apt_install chromium-browser fonts-dejavu-core; then
    log "installed chromium-browser (on Ubuntu a snap wrapper; if it will not start, set EINATTN_CHROMIUM)"
  else
    log "could not install chromium: install Chromium or Chrome by hand and set EINATTN_CHROMIUM to its binary"
    exit 1
  fi
fi

if [ "$need_notebooks" = "1" ]; then
  apt_update
  # Notebooks: the test suite executes examples/notebooks/*.ipynb headlessly with
  # `jupyter nbconvert --to notebook --execute`; these four packages (and their Python
  # dependencies) are all it needs. No IPython, JupyterLab or notebook server: the kernel is
  # tslab on Node (an npm devDependency), registered project-locally by scripts/notebook-kernel.sh.
  log "installing $notebook_pkgs (notebooks: the test suite executes examples/notebooks headlessly)"
  # shellcheck disable=SC2086
  apt_install $notebook_pkgs
  log "installed jupyter-nbconvert $(dpkg-query -W -f='${Version}' jupyter-nbconvert)"
fi
