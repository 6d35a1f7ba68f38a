// The README's TypeScript examples compile under `strict` against the built package (dist/*.d.ts),
// resolved as `import ... from 'tsvlm'` from a user's project. Needs `npm run build`.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs tool without types
import { checkSnippets, tsBlocks } from '../../tools/readme-snippets.mjs';

const root = resolve(__dirname, '../..');

describe.skipIf(!existsSync(join(root, 'dist/index.d.ts')))('README', () => {
  it('its TypeScript blocks compile under strict, importing tsvlm as a user does', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvlm-readme-'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules/tsvlm'));
    let out = '';
    try {
      expect(checkSnippets(dir)).toBeGreaterThan(0);
    } catch (e) {
      out = String((e as { stdout?: Buffer }).stdout ?? e);
    }
    expect(out).toBe('');
  });

  it('a snippet that does not typecheck is caught (the old README example: a stream that may be false)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvlm-readme-bad-'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules/tsvlm'));
    const readme = join(dir, 'README.md');
    writeFileSync(readme, "# x\n```ts\nimport { loadModel } from 'tsvlm';\nconst vlm = await loadModel('m');\nconst s = vlm.kind === 'chat' && vlm.chat([]);\nfor await (const d of s) console.log(d);\n```\n");
    expect(tsBlocks(readFileSync(readme, 'utf8'))).toHaveLength(1);
    expect(() => checkSnippets(dir, readme)).toThrow();
  });
});
