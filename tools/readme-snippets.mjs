// Typechecks the README's TypeScript examples under `strict`, as a user's project would compile
// them: each ```ts block becomes a module in DIR, which must resolve 'tsvlm' (a node_modules/tsvlm
// there). Usage: node tools/readme-snippets.mjs DIR [README.md]. Exit 1 with tsc's messages.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The ```ts blocks of a Markdown text. */
export function tsBlocks(markdown) {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

export function checkSnippets(dir, readme = join(root, 'README.md')) {
  const blocks = tsBlocks(readFileSync(readme, 'utf8'));
  if (!blocks.length) throw new Error(`${readme} has no \`\`\`ts block`);
  const files = blocks.map((code, i) => {
    const f = `readme-snippet-${i + 1}.ts`;
    writeFileSync(join(dir, f), code);
    return f;
  });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'readme-check', private: true, type: 'module' }));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      strict: true, noEmit: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext',
      skipLibCheck: true, types: ['node'], typeRoots: [join(root, 'node_modules/@types')],
    },
    files,
  }));
  const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { stdio: 'pipe' });
  return files.length;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node tools/readme-snippets.mjs DIR [README.md]');
    process.exit(2);
  }
  try {
    console.log(`README: ${checkSnippets(resolve(dir), process.argv[3])} TypeScript block(s) compile under strict`);
  } catch (e) {
    console.error(e.stdout?.toString() || e.message);
    process.exit(1);
  }
}
