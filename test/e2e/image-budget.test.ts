// Ordinary photos fit: an image is downsized to what the model takes (its preprocessor's limit,
// then the context left after the text and a reply), and --max-image-pixels moves that limit.
// Needs `npm run build` (runs dist/).
import { describe, it, expect, beforeAll } from 'vitest';
import { join } from 'node:path';
import sharp from 'sharp';
import { BUILT, ROOT, assemble, haveFixtures, tsvlm, workDir } from '../helpers/cli.js';

const work = workDir();
const scene = join(ROOT, 'examples/scene-four-shapes.png');

/** `src` scaled to `size`×`size` (a "photo" far above the model's resolution). */
async function upscaled(src: string, size: number, name: string): Promise<string> {
  const out = join(work, name);
  await sharp(src).resize(size, size, { kernel: 'nearest' }).png().toFile(out);
  return out;
}

function ask(args: string[]) {
  const r = tsvlm(['chat', ...args, '--json']);
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out) as { text: string; usage: { prompt_tokens: number } };
}

describe.skipIf(!BUILT)('images are downsized to what the model takes', () => {
  it('the built-in sail-scenes answers about a 512×512 photo as about its 64×64 original', async () => {
    const big = await upscaled(scene, 512, 'scene-512.png');
    const q = 'How many shapes are there?';
    const small = ask(['--image', scene, q]);
    const large = ask(['--image', big, q]);
    expect(large.text).toBe(small.text);
    expect(large.usage.prompt_tokens).toBe(small.usage.prompt_tokens); // 64 patches: the training resolution
    // More image tokens on request (the model then sees 128×128 pixels: 256 patches).
    const more = ask(['--image', big, q, '--max-image-pixels', String(128 * 128)]);
    expect(more.usage.prompt_tokens).toBe(small.usage.prompt_tokens + 256 - 64);
  });

  describe.skipIf(!haveFixtures('sail-tiny'))('without a preprocessor config (sail-tiny: 8-pixel patches, 4096 positions)', () => {
    let sail: string;
    let photo: string;
    beforeAll(async () => {
      sail = assemble(work, 'sail-tiny');
      photo = await upscaled(scene, 1024, 'scene-1024.png'); // 16384 patches at full size
    });

    it('an image takes at most the context left after the text and the reply', () => {
      // SAIL's own limit (4096 patches) alone would fill the whole context; the reply keeps its 1000.
      const longReply = ask(['--model', sail, '--image', photo, 'What is it?', '--max-new-tokens', '1000']);
      expect(longReply.usage.prompt_tokens).toBeGreaterThan(2000);
      expect(longReply.usage.prompt_tokens).toBeLessThanOrEqual(4096 - 1000);
    });

    it('--max-image-pixels sets the image size; bad values are refused', () => {
      const text = ask(['--model', sail, 'What is it?', '--max-new-tokens', '2']).usage.prompt_tokens;
      const r = ask(['--model', sail, '--image', photo, 'What is it?', '--max-new-tokens', '2', '--max-image-pixels', '4096']);
      expect(r.usage.prompt_tokens).toBe(text + 64 + 2); // 64×64 pixels: 8×8 patches, plus <vision> </vision>
      const bad = tsvlm(['chat', '--model', sail, '--image', photo, 'hi', '--max-image-pixels', '10']);
      expect(bad.code).toBe(1);
      expect(bad.err).toMatch(/maxImagePixels must be at least one 8×8 patch/);
      const notInt = tsvlm(['chat', '--model', sail, '--image', photo, 'hi', '--max-image-pixels', 'lots']);
      expect(notInt.code).toBe(2);
    });
  });
});
