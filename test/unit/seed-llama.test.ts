// SEED-LLaMA: composition (LLaMA folder + image tokenizer), prompts with image spans as the
// reference writes them, generated spans → images (valid, malformed, cut off), and the
// seed-llama-tiny greedy ids through the model's own generation path.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadModel, type ChatEvent, type DecodedImage, type ImageRenderer, type ImageTokenizer } from '../../src/index.js';
import { SeedLlamaChatModel, seedImageSpans } from '../../src/models/seed-llama/seed-llama.js';
import { streamGeneration, type ImageSpans } from '../../src/generate/generate.js';
import { Sampler } from '../../src/generate/sampler.js';
import { seedPromptText, promptFormatOf } from '../../src/models/seed-llama/prompt.js';
import { ATTENTIONS, FIXTURES_ROOT, openFixture } from '../helpers/fixtures.js';

const root = resolve(__dirname, '../..');
const FIX = join(FIXTURES_ROOT, 'seed-llama-tiny');
const haveFix = existsSync(join(FIX, 'cases.json'));
const TOK = join(root, 'test/data/e2e-tokenizers/seed-llama-tiny');
const LAYOUT = { boi: 164, eoi: 165, firstCode: 100, codebookSize: 64, codesPerImage: 32 };

/** A stand-in image tokenizer: fixed codes per image, decode = codes as floats (observable). */
function fakeImageTokenizer(dir: string, codes: number[]): ImageTokenizer & { encoded: number; decoded: number[][] } {
  const t = {
    kind: 'image-tokenizer' as const,
    info: { modelType: 'seed_tokenizer', name: 'fake', dir, device: 'cpu' as const },
    codesPerImage: 32,
    codebookSize: 64,
    embeddingShape: [32],
    encoded: 0,
    decoded: [] as number[][],
    async encode(images: unknown[]) { t.encoded += images.length; return images.map(() => codes); },
    async decode(list: number[][]) { t.decoded.push(...list); return list.map((c) => Float32Array.from(c)); },
    async dispose() {},
  };
  return t;
}

const fakeRenderer: ImageRenderer = {
  async render(embs) {
    // 2×1 image whose red channel holds the first two codes: proves the codes reached the renderer.
    return embs.map((e): DecodedImage => ({ width: 2, height: 1, channels: 3, data: Uint8Array.from([e[0]!, 0, 0, e[1]!, 0, 0]) }));
  },
};

let dir: string; // fixture weights + no tokenizer
let withTok: string; // fixture weights + a tokenizer that has the image tokens
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'seed-llama-'));
  for (const f of ['config.json', 'model.safetensors']) symlinkSync(join(FIX, f), join(dir, f));
  withTok = mkdtempSync(join(tmpdir(), 'seed-llama-tok-'));
  for (const f of ['config.json', 'model.safetensors']) symlinkSync(join(FIX, f), join(withTok, f));
  cpSync(TOK, withTok, { recursive: true });
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(withTok, { recursive: true, force: true });
});

describe.skipIf(!haveFix)('seed-llama composition', () => {
  it('a llama folder + an image tokenizer loads as SEED-LLaMA; the same folder alone is a plain llama', async () => {
    const fix = openFixture(FIX);
    const it = fakeImageTokenizer(TOK, fix.casesJson.codes);
    const m = await loadModel(dir, { imageTokenizer: it });
    expect(m).toBeInstanceOf(SeedLlamaChatModel);
    expect(m.info.modelType).toBe('seed_llama');
    await m.dispose();
    const plain = await loadModel(dir).catch((e) => e);
    // No tokenizer in the folder: the plain llama loader fails on the tokenizer, not as SEED-LLaMA.
    expect(plain).toBeInstanceOf(Error);
    const auto = await loadModel(withTok);
    expect(auto).toBeInstanceOf(SeedLlamaChatModel);
    await auto.dispose();
  });

  it('says what is missing: an image to read without the image tokenizer', async () => {
    const m = (await loadModel(withTok)) as SeedLlamaChatModel;
    await expect(m.promptIds([{ role: 'user', content: [{ type: 'image', image: new Uint8Array([1]) }, { type: 'text', text: 'hi' }] }]))
      .rejects.toThrow(/image tokenizer/);
    // Images given as codes need no image tokenizer; codes are checked.
    await expect(m.promptIds([{ role: 'user', content: [{ type: 'image', image: new Uint8Array(), codes: [1, 2, 3] }] }]))
      .rejects.toThrow(/expected 32 codes, got 3/);
    await expect(m.promptIds([{ role: 'user', content: [{ type: 'image', image: new Uint8Array(), codes: Array(32).fill(64) }] }]))
      .rejects.toThrow(/code 64 is outside 0..63/);
    await m.dispose();
  });
});

describe.skipIf(!haveFix)('seed-llama prompts', () => {
  it('writes the 8B layout: <s>USER: <img>codes</img>question\\nASSISTANT: with code c at id 100 + c', async () => {
    const fix = openFixture(FIX);
    const codes: number[] = fix.casesJson.codes;
    const it = fakeImageTokenizer(TOK, codes);
    const m = (await loadModel(dir, { imageTokenizer: it })) as SeedLlamaChatModel;
    const ids = await m.promptIds([{ role: 'user', content: [{ type: 'image', image: new Uint8Array([0]) }, { type: 'text', text: 'What is this?' }] }]);
    expect(it.encoded).toBe(1);
    // Structure as the fixture's prompt_parts: <s>, text, <img>, 32 codes, </img>, text.
    expect(ids[0]).toBe(1);
    const boi = ids.indexOf(164);
    expect(ids.slice(boi, boi + 34)).toEqual([164, ...codes.map((c) => 100 + c), 165]);
    const fixIds = fix.ints('a.input_ids');
    expect(fixIds.slice(3, 37)).toEqual(ids.slice(boi, boi + 34));
    const span = `<img>${codes.map((c) => `<img_${String(c).padStart(5, '0')}>`).join('')}</img>`;
    expect(ids).toEqual(m.tokenizer.encode(`<s>USER: ${span}What is this?\nASSISTANT:`, { addSpecialTokens: false }));
    // Earlier drawn images stay as their codes: no second encode.
    const turn2 = await m.promptIds([
      { role: 'user', content: 'Draw a cat' },
      { role: 'assistant', content: [{ type: 'text', text: 'Sure.' }, { type: 'image', image: new Uint8Array(), codes }] },
      { role: 'user', content: 'make it blue' },
    ], true);
    expect(it.encoded).toBe(1);
    expect(turn2).toEqual(m.tokenizer.encode(`<s>USER: Draw a cat\nASSISTANT: Sure.${span}\nUSER: make it blue\nASSISTANT:<img>`, { addSpecialTokens: false }));
    await m.dispose();
  });

  it('writes the 14B [INST] layout, chosen from the checkpoint shape', () => {
    expect(promptFormatOf({ hidden_size: 5120, num_hidden_layers: 40 })).toBe('llama2');
    expect(promptFormatOf({ hidden_size: 4096, num_hidden_layers: 32 })).toBe('vicuna');
    const text = seedPromptText([
      { role: 'user', content: [{ type: 'image', image: '' }, { type: 'text', text: 'q1' }] },
      { role: 'assistant', content: 'a1' },
      { role: 'user', content: 'q2' },
    ], 'llama2', '<s>', () => '<IMG>', '<img>');
    expect(text).toBe('<s>[INST] <IMG>q1 [/INST]\na1\n[INST] q2 [/INST]\n');
  });
});

describe('seed-llama generation', () => {
  it.skipIf(!haveFix).each(ATTENTIONS)('reproduces the reference greedy ids for the image-span prompt (cached decoding, attention %s)', async (attention) => {
    const fix = openFixture(FIX);
    const m = (await loadModel(withTok, { attention })) as SeedLlamaChatModel;
    expect(m.lm.attention).toBe(attention);
    for (const c of ['a', 'b']) {
      const stream = m.generateIds(fix.ints(`${c}.input_ids`), { maxNewTokens: 8 });
      const r = await stream.result;
      expect(r.tokenIds).toEqual(fix.ints(`${c}.greedy_ids`));
    }
    await m.dispose();
  });

  /** A loop that emits `script` token by token (one-hot logits), then eos. */
  function scripted(script: number[], opts: { startInSpan?: boolean; max?: number; spans?: ImageSpans } = {}) {
    const V = 170;
    const onehot = (t: number) => { const l = new Float32Array(V).fill(-1e9); l[t] = 0; return l; };
    const seq = [...script, 2];
    let k = 0;
    return {
      stream: streamGeneration({
        firstLogits: onehot(seq[k++]!),
        step: async () => onehot(seq[k++] ?? 2),
        sampler: new Sampler({}),
        maxNewTokens: opts.max ?? 100,
        eosIds: [2],
        promptIds: [1],
        promptTokens: 1,
        decoder: { push: (id: number) => `[${id}]`, flush: () => '' },
        imageSpans: opts.spans ?? seedImageSpans(LAYOUT, {}, {}, opts.startInSpan ?? false),
      }),
    };
  }
  const code32 = Array.from({ length: 32 }, (_, i) => 100 + (i % 64));

  it('streams text and images in order; the result lists the images with their codes', async () => {
    const { stream } = scripted([10, 164, ...code32, 165, 11, 164, ...code32, 165]);
    const events: ChatEvent[] = [];
    for await (const e of stream.events!()) events.push(e);
    expect(events.map((e) => (e.type === 'text' ? e.text : `IMG${e.image.index}`))).toEqual(['[10]', 'IMG0', '[11]', 'IMG1']);
    const r = await stream.result;
    expect(r.text).toBe('[10][11]');
    expect(r.images!.map((i) => i.codes)).toEqual([code32.map((id) => id - 100), code32.map((id) => id - 100)]);
    expect(r.images!.every((i) => i.error === undefined)).toBe(true);
  });

  it('reports malformed spans instead of failing: 31 codes, a non-code token, cut off at max tokens', async () => {
    const short = await scripted([164, ...code32.slice(1), 165]).stream.result;
    expect(short.images![0]!.error).toMatch(/has 31 codes between <img> and <\/img>; an image has exactly 32/);
    const bad = await scripted([164, ...code32.slice(1), 50, 165]).stream.result;
    expect(bad.images![0]!.error).toMatch(/token 50 at position 32 of the span is not an image code/);
    const cut = await scripted([12, 164, ...code32], { max: 10 }).stream.result;
    expect(cut.finishReason).toBe('length');
    expect(cut.images![0]!.error).toMatch(/cut off after 8 of 32 codes/);
    expect(cut.text).toBe('[12]');
  });

  it('starts inside a span when the prompt ends with <img> (draw now)', async () => {
    const r = await scripted([...code32, 165, 13], { startInSpan: true }).stream.result;
    expect(r.images!.length).toBe(1);
    expect(r.images![0]!.error).toBeUndefined();
    expect(r.text).toBe('[13]');
  });

  it('renders each valid drawn image through the image tokenizer and the renderer; malformed ones are not rendered', async () => {
    const it = fakeImageTokenizer(TOK, []);
    const r = await scripted([164, ...code32, 165, 164, 101, 165], { spans: seedImageSpans(LAYOUT, { imageTokenizer: it, renderer: fakeRenderer }, {}, false) }).stream.result;
    const codes = code32.map((id) => id - 100);
    expect(it.decoded).toEqual([codes]);
    expect(r.images![0]!.image!.data[0]).toBe(codes[0]);
    expect(r.images![0]!.image!.data[3]).toBe(codes[1]);
    expect(r.images![1]!.image).toBeUndefined();
    expect(r.images![1]!.error).toMatch(/image 2 of the reply has 1 codes/);
  });
});
