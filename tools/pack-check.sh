#!/usr/bin/env bash
# `npm install tsvlm` from an `npm pack` tarball into a fresh project, as a user would, where only
# the npm registry is reachable (onnxruntime-node is bundled without its CUDA-downloading
# postinstall; see tools/prepack-ort.mjs). Then: the CLI runs the built-in models, the library
# imports, and the README's TypeScript examples compile against the installed package.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

node tools/prepack-ort.mjs   # the repo's .npmrc (ignore-scripts) keeps npm from running prepack
npm pack --silent --pack-destination "$work" >/dev/null
tarball=$(ls "$work"/tsvlm-*.tgz)
echo "pack-check: $(du -h "$tarball" | cut -f1) $tarball"
if tar -xOzf "$tarball" package/node_modules/onnxruntime-node/package.json | grep -q '"postinstall"'; then
  echo "pack-check: the bundled onnxruntime-node still has its postinstall" >&2
  exit 1
fi

mkdir "$work/app" && cd "$work/app"
npm init -y >/dev/null
# No repo settings apply here: a fresh project with npm's defaults (scripts allowed).
npm install --no-audit --no-fund --ignore-scripts=false "$tarball" >/dev/null
npx tsvlm --version
npx tsvlm classify -q --image node_modules/tsvlm/examples/scene.png --label "a red circle" --label "a blue square" --json
printf '%s\n' "import { loadModel } from 'tsvlm';" \
  "const m = await loadModel('sail-scenes');" \
  "if (m.kind !== 'chat') throw new Error('kind');" \
  "console.log('answer:', (await m.chat([{ role: 'user', content: [{ type: 'image', image: 'node_modules/tsvlm/examples/scene.png' }, { type: 'text', text: 'How many shapes are there?' }] }]).result).text);" \
  "await m.dispose();" > smoke.mjs
node smoke.mjs
mkdir "$work/app/readme" && node "$root/tools/readme-snippets.mjs" "$work/app/readme"
echo "pack-check: ok"
