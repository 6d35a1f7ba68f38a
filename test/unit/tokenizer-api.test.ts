// Tokenizer API around the oracle-tested core: padding, truncation, lookups, folder variants
// (added_tokens.json only, generation_config eos, both file kinds), errors that say what to do.
import { describe, it, expect } from 'vitest';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChatTemplateError, loadTokenizer, SentencePieceFormatError, TokenizerLoadError } from '../../src/tokenizers/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const DATA = resolve(here, '../data/tokenizers');
const oracles = JSON.parse(readFileSync(join(DATA, 'oracles.json'), 'utf8'));

function copyFolder(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsvlm-tok-'));
  cpSync(join(DATA, name), dir, { recursive: true });
  return dir;
}

describe('Tokenizer API', () => {
  it('pads and truncates like SigLIP padding="max_length" (eos kept)', async () => {
    const tok = await loadTokenizer(join(DATA, 'siglip-unigram'));
    expect(tok.modelMaxLength).toBe(64);
    const long: string = oracles.strings[oracles.strings.length - 1];
    const ids = tok.encode(long, { maxLength: 64 });
    expect(ids.length).toBe(64);
    expect(ids[63]).toBe(tok.eosTokenIds[0]);
    expect(tok.padToLength(tok.encode('a cat'), 8)).toEqual([...tok.encode('a cat'), ...Array(8 - tok.encode('a cat').length).fill(tok.padTokenId)]);
    expect(() => tok.padToLength(tok.encode(long), 64)).toThrow(/do not fit in 64 .*maxLength: 64/);
    expect(tok.encode(long, { maxLength: 10, addSpecialTokens: false }).length).toBe(10);
  });

  it('pads batches left or right with an attention mask', async () => {
    const tok = await loadTokenizer(join(DATA, 'bytelevel-bpe'));
    const a = tok.encode('Hello world');
    const b = tok.encode('Hi');
    const left = tok.padBatch([a, b], { side: 'left' });
    const pad = tok.padTokenId!;
    expect(left.ids[1]).toEqual([...Array(a.length - b.length).fill(pad), ...b]);
    expect(left.attentionMask[1]).toEqual([...Array(a.length - b.length).fill(0), ...Array(b.length).fill(1)]);
    expect(tok.padBatch([a, b]).ids[1]).toEqual([...b, ...Array(a.length - b.length).fill(pad)]);
    expect(tok.encodeBatch(['Hello world', 'Hi'])).toEqual([a, b]);
  });

  it('looks up tokens both ways, added tokens included', async () => {
    const tok = await loadTokenizer(join(DATA, 'llama-bpe'));
    const vpatch = tok.tokenToId('<vpatch>')!;
    expect(tok.idToToken(vpatch)).toBe('<vpatch>');
    expect(tok.specialIds.has(vpatch)).toBe(true);
    const img = tok.tokenToId('<img_00001>')!;
    expect(tok.specialIds.has(img)).toBe(false); // added, not special: survives skipSpecialTokens
    expect(tok.decode([img], { skipSpecialTokens: true })).toBe('<img_00001>');
    expect(tok.tokenToId('<0x0A>')).toBeDefined();
    expect(tok.tokenToId('no such piece')).toBeUndefined();
    expect(tok.idToToken(tok.vocabSize)).toBeUndefined();
    expect(tok.chatTemplate).toContain('<<SYS>>');
  });

  it('reads old-style folders: added_tokens.json without added_tokens_decoder, 8192 image tokens', async () => {
    const dir = copyFolder('llama-bpe-legacy');
    const cfgPath = join(dir, 'tokenizer_config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    delete cfg.added_tokens_decoder;
    delete cfg.additional_special_tokens;
    delete cfg.extra_special_tokens;
    writeFileSync(cfgPath, JSON.stringify(cfg));
    const base = 700; // pieces in the tiny model
    const added: Record<string, number> = {};
    for (let c = 0; c < 8192; c++) added[`<img_${String(c).padStart(5, '0')}>`] = base + c;
    added['<img>'] = base + 8192;
    added['</img>'] = base + 8193;
    writeFileSync(join(dir, 'added_tokens.json'), JSON.stringify(added));
    writeFileSync(join(dir, 'special_tokens_map.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' }));
    const tok = await loadTokenizer(dir);
    expect(tok.vocabSize).toBe(base + 8194);
    const t0 = performance.now();
    const ids = tok.encode('<s>USER: <img><img_00042><img_08191></img>What is it?\nASSISTANT:', { addSpecialTokens: false });
    expect(performance.now() - t0).toBeLessThan(200);
    expect(ids.slice(0, 1)).toEqual([tok.bosTokenId]);
    expect(ids).toContain(base + 42);
    expect(ids).toContain(base + 8191);
    // legacy=True: the text after </img> gets SentencePiece's dummy prefix ("▁What"), as in Python.
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('USER: <img><img_00042><img_08191></img> What is it?\nASSISTANT:');
    rmSync(dir, { recursive: true });
  });

  it('adds generation_config.json eos ids after the tokenizer eos', async () => {
    const dir = copyFolder('bytelevel-bpe');
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [2, 0] }));
    const tok = await loadTokenizer(dir);
    expect(tok.eosTokenIds).toEqual([2, 0]);
    rmSync(dir, { recursive: true });
  });

  it('prefers tokenizer.json when a folder has both, unless asked otherwise', async () => {
    const dir = copyFolder('llama-bpe');
    copyFileSync(join(DATA, 'llama-bpe-json', 'tokenizer.json'), join(dir, 'tokenizer.json'));
    expect((await loadTokenizer(dir)).kind).toBe('tokenizer.json');
    const sp = await loadTokenizer(dir, { prefer: 'sentencepiece' });
    expect(sp.kind).toBe('sentencepiece');
    expect(sp.encode(' leading space')).toEqual(oracles.sentencepiece['llama-bpe'].slow.cases[3].ids);
    rmSync(dir, { recursive: true });
  });

  it('says what is wrong with a folder', async () => {
    await expect(loadTokenizer(join(DATA, 'no-such-folder'))).rejects.toThrow(/does not exist/);
    const empty = mkdtempSync(join(tmpdir(), 'tsvlm-tok-'));
    await expect(loadTokenizer(empty)).rejects.toThrow(TokenizerLoadError);
    await expect(loadTokenizer(empty)).rejects.toThrow(/no tokenizer.json, tokenizer.model or spiece.model/);
    writeFileSync(join(empty, 'tokenizer.model'), Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff));
    await expect(loadTokenizer(empty)).rejects.toThrow(SentencePieceFormatError);
    rmSync(join(empty, 'tokenizer.model'));
    writeFileSync(join(empty, 'tokenizer.json'), '{"model": ');
    await expect(loadTokenizer(empty)).rejects.toThrow(/tokenizer.json: not valid JSON/);
    rmSync(empty, { recursive: true });
  });

  it('explains a missing chat template', async () => {
    const tok = await loadTokenizer(join(DATA, 't5-unigram'));
    expect(() => tok.applyChatTemplate([{ role: 'user', content: 'hi' }])).toThrow(ChatTemplateError);
    expect(() => tok.applyChatTemplate([{ role: 'user', content: 'hi' }])).toThrow(/no chat template .*pass \{template/);
    const inline = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}";
    expect(tok.applyChatTemplate([{ role: 'user', content: 'hi' }], { template: inline })).toBe('user: hi\n');
  });

  it('passes image parts to templates without their pixels', async () => {
    const tok = await loadTokenizer(join(DATA, 'bytelevel-bpe'));
    const text = tok.applyChatTemplate(
      [{ role: 'user', content: [{ type: 'image', image: new Uint8Array(10) }, { type: 'text', text: 'What is this?' }] }],
      { template: 'multimodal', addGenerationPrompt: true },
    );
    expect(text).toBe('<|im_start|>user\nPicture 1: <image>\nWhat is this?<|im_end|>\n<|im_start|>assistant\n');
  });
});
