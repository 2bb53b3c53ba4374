#!/usr/bin/env bash
# The benchmark on a lent GPU machine (the `device` tool of this workplace; NVIDIA, Vulkan).
# That machine reaches no registry and has no Node, so everything travels with the working
# tree, compressed under the 64 MiB the tool carries:
#
#   bash scripts/gpu-bench.sh prepare     # here: .gpu/ = node, Dawn for linux-x64, the CLI bundled
#                                         # by esbuild, Vulkan's loader from Debian (about 45 MiB)
#   bash scripts/gpu-bench.sh run [ARGS]  # there, with .gpu carried: unpacks, finds the NVIDIA
#                                         # Vulkan driver, runs `einattn bench ARGS` into $OUT
#
# A device call, with a limit that leaves time to run it again:
#   run(command: "bash scripts/gpu-bench.sh run --systems einattn,einattn-unfused,interpreter",
#       carry: [".gpu"], timeout_s: 540)
# then copy $OUT's bench/results files into bench/results/ and commit them. ONNX Runtime is
# not carried (its package is 300 MB), so the peer columns stay empty there.
# `bash scripts/gpu-bench.sh run` works here too (on lavapipe): that is how the bundle is checked.
set -euo pipefail
cd "$(dirname "$0")/.."
GPU=.gpu

prepare() {
  rm -rf "$GPU" && mkdir -p "$GPU/deb"
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
  # the CLI as one file: webgpu (a native addon) and the ORT peer stay outside it
  npx esbuild src/cli/main.ts --bundle --platform=node --format=esm --target=node20 \
    --external:webgpu --external:onnxruntime-node --external:onnxruntime-web --external:tsx \
    --banner:js="import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __fu } from 'node:url'; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __fu(new URL('.', import.meta.url));" \
    --outfile="$GPU/cli.mjs" --log-level=warning
  cat > "$GPU/einattn.mjs" <<'EOF'
import { main } from './cli.mjs';
process.exitCode = await main(process.argv.slice(2));
EOF
  mkdir -p "$GPU/node_modules/webgpu/dist/linux-x64"
  cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$GPU/node_modules/webgpu/"
  cp node_modules/webgpu/dist/linux-x64/dawn.node "$GPU/node_modules/webgpu/dist/linux-x64/"
  cp "$(command -v node)" "$GPU/node"
  # Vulkan's loader (the device image may lack it); the NVIDIA driver itself is on the machine
  (cd "$GPU/deb" && apt-get download libvulkan1 >/dev/null)
  tar -C "$GPU" -cf - node cli.mjs einattn.mjs node_modules | xz -T2 -6 > "$GPU/bundle.tar.xz"
  rm -rf "$GPU/node" "$GPU/cli.mjs" "$GPU/einattn.mjs" "$GPU/node_modules"
  du -sh "$GPU"
}

run() {
  local work=/tmp/einattn-gpu out="${OUT:-out/gpu}"
  rm -rf "$work" && mkdir -p "$work" "$out"
  xz -dc "$GPU/bundle.tar.xz" | tar -C "$work" -xf -
  if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
    for f in "$GPU"/deb/*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
  local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ -f "$icd" ] && [ -z "${VK_DRIVER_FILES:-}" ]; then export VK_DRIVER_FILES="$icd"; fi
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  "$work/node" "$work/einattn.mjs" info 2>&1 | tee "$out/info.txt"
  "$work/node" "$work/einattn.mjs" bench --out "$out" "$@" 2>&1 | tee "$out/bench.log"
}

case "${1:-}" in
  prepare) prepare ;;
  run) shift; run "$@" ;;
  *) echo "usage: bash scripts/gpu-bench.sh prepare | run [einattn bench flags]" >&2; exit 2 ;;
esac
