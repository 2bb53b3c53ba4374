#!/usr/bin/env bash
# The project's TypeScript Jupyter kernel: tslab (an npm devDependency) on Node, with
# einattn importable by its package name in notebook cells (`import { mha } from 'einattn'`).
#
#   bash scripts/notebook-kernel.sh [install]      write the kernel spec and the notebook types; print how to use them
#   bash scripts/notebook-kernel.sh env            print the `export JUPYTER_PATH=...` line for your shell
#   bash scripts/notebook-kernel.sh run [NB...]    execute notebooks headlessly (default: examples/notebooks/*.ipynb)
#                                                  into out/notebooks/ (NOTEBOOK_TIMEOUT seconds per cell, default 120)
#   bash scripts/notebook-kernel.sh clear [NB...]  clear outputs, execution counts and timings before committing
#                                                  (default: examples/notebooks/*.ipynb; the tests reject notebooks with outputs)
#   bash scripts/notebook-kernel.sh types [force]  regenerate the notebook types if a source file changed (or always)
#   bash scripts/notebook-kernel.sh start FILE     what Jupyter runs (kernel.json's argv) to start a kernel
# (`npm run notebooks -- <command>` runs the same.)
#
# Nothing global is touched. The kernel spec is written by hand (tslab's own `tslab install`
# needs IPython) to .einattn/jupyter/kernels/einattn-ts/kernel.json (.einattn/ is git-ignored);
# Jupyter finds it when JUPYTER_PATH includes .einattn/jupyter.
#
# Why a wrapper instead of tslab's plain `tslab kernel`: einattn is TypeScript source that
# imports with explicit `.ts` extensions, run by tsx. tslab type-checks and compiles cells with
# its own TypeScript 5.0 and Node10 module resolution, which cannot compile those sources and does
# not read package.json "exports". So, for tslab, this script (1) emits einattn's declarations
# with the project's TypeScript into node_modules/@types/einattn (one .d.ts per subpath that
# tsconfig.json "paths" maps to the sources: einattn, einattn/runtime, einattn/cost, ...), where
# TS 5.0 finds them, regenerated whenever a file under src/ or codegen/ is newer; and (2) starts
# Node with tsx's loader (`node --import tsx`), which maps the cells' `require('einattn')` to the
# .ts sources through the same tsconfig.json "paths" (package.json "exports" point at the built
# dist/, which the notebooks do not use). Cells are fully typed: a wrong axis is a compile error
# in the cell, as in an editor.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$ROOT/.einattn/jupyter"
KERNEL_NAME="einattn-ts"
KDIR="$STATE/kernels/$KERNEL_NAME"
TYPES="$ROOT/node_modules/@types/einattn"
STAMP="$TYPES/.einattn-stamp"

log() { printf '[notebook-kernel] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

need_node_modules() {
  [ -f "$ROOT/node_modules/tslab/bin/tslab" ] || die "tslab is not installed: run npm install (it is a devDependency)"
  [ -f "$ROOT/node_modules/tsx/package.json" ] || die "tsx is not installed: run npm install"
  [ -f "$ROOT/node_modules/typescript/bin/tsc" ] || die "typescript is not installed: run npm install"
}

types_stale() {
  [ -f "$STAMP" ] || return 0
  [ -n "$(find "$ROOT/src" "$ROOT/codegen" "$ROOT/package.json" "$ROOT/tsconfig.json" -newer "$STAMP" \( -name '*.ts' -o -name '*.json' \) -print -quit 2>/dev/null)" ]
}

# Emits the declarations into a fresh folder, then swaps it in; serialised with flock so that
# kernels started together (e.g. by the test suite) do not race.
gen_types() {
  local force="${1:-}"
  mkdir -p "$STATE" "$ROOT/node_modules/@types"
  exec 9>"$STATE/types.lock"
  flock 9
  if [ "$force" != "force" ] && ! types_stale; then exec 9>&-; return 0; fi
  local tmp="$ROOT/node_modules/@types/.einattn.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  touch "$tmp/.einattn-stamp" # taken before reading the sources: an edit during emission is seen next time
  # the package's subpaths, from tsconfig.json "paths" (einattn -> src/index.ts, einattn/runtime -> ...):
  # "index src/index.ts", "runtime src/runtime/index.ts", ...
  local entries
  entries="$(node -e '
    const { paths } = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).compilerOptions;
    for (const [name, [target]] of Object.entries(paths ?? {}))
      if (name === "einattn" || name.startsWith("einattn/")) console.log((name === "einattn" ? "index" : name.slice(8)) + " " + target.replace(/^\.\//, ""));
  ' "$ROOT/tsconfig.json")"
  local files="" name target
  while read -r name target; do
    [ -n "$name" ] || continue
    files="$files\"$ROOT/$target\","
    printf "export * from './%s';\n" "${target%.ts}" > "$tmp/$name.d.ts"
  done <<< "$entries"
  cat > "$STATE/types.tsconfig.json" <<EOF
{
  "extends": "$ROOT/tsconfig.json",
  "compilerOptions": {
    "noEmit": false, "declaration": true, "emitDeclarationOnly": true, "noEmitOnError": false,
    "rootDir": "$ROOT", "outDir": "$tmp", "incremental": false
  },
  "include": [],
  "files": [${files%,}]
}
EOF
  if ! node "$ROOT/node_modules/typescript/bin/tsc" -p "$STATE/types.tsconfig.json" > "$STATE/types.log" 2>&1; then
    log "note: tsc reported errors while emitting the notebook types (see $STATE/types.log); declarations were emitted anyway"
  fi
  if [ ! -f "$tmp/src/index.d.ts" ]; then
    rm -rf "$tmp"; exec 9>&-
    log "could not emit einattn's declarations (see $STATE/types.log)"; return 1
  fi
  printf '{ "name": "@types/einattn", "private": true, "version": "0.0.0", "types": "index.d.ts" }\n' > "$tmp/package.json"
  printf 'Generated by scripts/notebook-kernel.sh for the tslab notebook kernel; safe to delete.\n' > "$tmp/README"
  rm -rf "$TYPES"
  mv "$tmp" "$TYPES"
  exec 9>&-
}

write_kernel_spec() {
  mkdir -p "$KDIR"
  cat > "$KDIR/kernel.json" <<EOF
{
  "argv": ["$(command -v bash)", "$ROOT/scripts/notebook-kernel.sh", "start", "{connection_file}"],
  "display_name": "TypeScript (einattn)",
  "language": "typescript",
  "interrupt_mode": "signal",
  "metadata": { "generated_by": "scripts/notebook-kernel.sh" }
}
EOF
}

cmd="${1:-install}"
case "$cmd" in
  install)
    need_node_modules
    write_kernel_spec
    gen_types || exit 1
    log "kernel spec: $KDIR/kernel.json (kernel '$KERNEL_NAME', TypeScript via tslab $(node -p "require('$ROOT/node_modules/tslab/package.json').version"))"
    log "to use it, put this in your shell, then start Jupyter (see docs/NOTEBOOKS.md):"
    echo "export JUPYTER_PATH=\"$STATE\${JUPYTER_PATH:+:\$JUPYTER_PATH}\""
    ;;
  env)
    echo "export JUPYTER_PATH=\"$STATE\${JUPYTER_PATH:+:\$JUPYTER_PATH}\""
    ;;
  types)
    need_node_modules
    gen_types "${2:-}" || exit 1
    ;;
  start)
    [ $# -ge 2 ] || die "usage: notebook-kernel.sh start CONNECTION_FILE"
    need_node_modules
    # stale declarations only weaken type checking in cells; start the kernel anyway
    gen_types || [ -f "$TYPES/index.d.ts" ] || log "no einattn declarations: cells importing 'einattn' will not type-check"
    tsx_loader="$(node -p "require('url').pathToFileURL(require.resolve('tsx', { paths: [process.argv[1]] })).href" "$ROOT")"
    exec node --import "$tsx_loader" "$ROOT/node_modules/tslab/bin/tslab" kernel --config-path "$2"
    ;;
  run)
    shift
    command -v jupyter >/dev/null 2>&1 && jupyter nbconvert --version >/dev/null 2>&1 \
      || die "jupyter nbconvert is missing: run bash scripts/setup-system.sh"
    need_node_modules
    write_kernel_spec
    gen_types || exit 1
    [ $# -gt 0 ] || set -- "$ROOT"/examples/notebooks/*.ipynb
    mkdir -p "$ROOT/out/notebooks"
    for nb in "$@"; do
      log "executing $nb"
      JUPYTER_PATH="$STATE${JUPYTER_PATH:+:$JUPYTER_PATH}" jupyter nbconvert --to notebook --execute \
        --ExecutePreprocessor.timeout="${NOTEBOOK_TIMEOUT:-120}" --output-dir "$ROOT/out/notebooks" "$nb"
    done
    log "executed notebooks are in out/notebooks/"
    ;;
  clear)
    shift
    [ $# -gt 0 ] || set -- "$ROOT"/examples/notebooks/*.ipynb
    node -e '
      const fs = require("fs");
      for (const file of process.argv.slice(1)) {
        const nb = JSON.parse(fs.readFileSync(file, "utf8"));
        for (const c of nb.cells) {
          if (c.cell_type !== "code") continue;
          c.outputs = [];
          c.execution_count = null;
          if (c.metadata) delete c.metadata.execution;
        }
        fs.writeFileSync(file, JSON.stringify(nb, null, 1) + "\n");
        console.error("[notebook-kernel] cleared " + file);
      }' "$@"
    ;;
  *)
    die "unknown command '$cmd' (install | env | run [NOTEBOOK...] | clear [NOTEBOOK...] | types | start CONNECTION_FILE)"
    ;;
esac
