// Runs before `npm pack` / `npm publish`. onnxruntime-node is bundled into the tsvlm tarball
// (package.json bundleDependencies) without its postinstall script: that script downloads CUDA
// binaries from NuGet on linux/x64 and fails the whole `npm install tsvlm` where only the npm
// registry is reachable. The CPU and WebGPU binaries ship inside the package, so nothing is lost,
// and no user npm setting (ignore-scripts) is needed. Idempotent.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const file = require.resolve('onnxruntime-node/package.json');
const pkg = JSON.parse(readFileSync(file, 'utf8'));
if (pkg.scripts?.postinstall || pkg.scripts?.install) {
  delete pkg.scripts.postinstall;
  delete pkg.scripts.install;
  writeFileSync(file, JSON.stringify(pkg, null, 2) + '\n');
  console.log(`tools/prepack-ort: removed the install script of ${file} (bundled without it)`);
}
