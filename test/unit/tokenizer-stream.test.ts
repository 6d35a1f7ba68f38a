// Streaming detokenization: deltas hold back incomplete characters, keep "▁" spaces exactly
// once, and add up to decode(). Expected texts come from the oracle strings themselves.
import { describe, it, expect } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTokenizer, TextStreamer, type Tokenizer } from '../../src/tokenizers/index.js';
import { cleanUpTokenization } from '../../src/tokenizers/decode.js';

const here = dirname(fileURLToPath(import.meta.url));
const DATA = resolve(here, '../data/tokenizers');

function deltas(tok: Tokenizer, ids: number[], skipSpecialTokens = false): string[] {
  const s = new TextStreamer(tok, { skipSpecialTokens });
  return [...ids.map((id) => s.push(id)), s.flush()];
}

describe('TextStreamer', () => {
  it('emits a byte-fallback CJK character only when its last byte arrives', async () => {
    const tok = await loadTokenizer(join(DATA, 'llama-bpe'));
    const text = '稀有的字：龘靐齉';
    const ids = tok.encode(text, { addSpecialTokens: false });
    const pieces = ids.map((id) => tok.idToToken(id)!);
    // 龘 = E9 BE 98 is not in the tiny vocabulary: three byte pieces.
    const at = pieces.indexOf('<0xE9>');
    expect(pieces.slice(at, at + 3)).toEqual(['<0xE9>', '<0xBE>', '<0x98>']);
    const d = deltas(tok, ids);
    expect(d.slice(at, at + 3)).toEqual(['', '', '龘']);
    expect(d.join('')).toBe(text);
    expect(d.every((x) => !x.includes('\uFFFD'))).toBe(true);
  });

  it('holds multi-token emoji (byte-level BPE) until complete', async () => {
    const tok = await loadTokenizer(join(DATA, 'bytelevel-bpe'));
    const text = 'family 👨‍👩‍👧 ok 👍🏽';
    const ids = tok.encode(text);
    const d = deltas(tok, ids);
    expect(d.join('')).toBe(text);
    expect(d.some((x) => x === '')).toBe(true); // some tokens end inside a character
    expect(d.every((x) => !x.includes('\uFFFD'))).toBe(true);
    // Every prefix of the stream is a prefix of the text (nothing emitted early or twice).
    let acc = '';
    for (const x of d) {
      acc += x;
      expect(text.startsWith(acc)).toBe(true);
    }
  });

  it('keeps SentencePiece spaces exactly once, without the dummy prefix', async () => {
    for (const name of ['llama-bpe-legacy', 'llama-bpe', 't5-unigram', 'llama-bpe-json']) {
      const tok = await loadTokenizer(join(DATA, name));
      // T5's normalizer squeezes whitespace runs, so it only gets single spaces.
      const texts = name.startsWith('t5') ? ['Hello world', 'a cat sits on the sofa.'] : ['Hello world', 'several   inner    spaces', 'a cat sits on the sofa.'];
      for (const text of texts) {
        const ids = tok.encode(text, { addSpecialTokens: false });
        const d = deltas(tok, ids);
        expect(d.join(''), `${name} ${text}`).toBe(text);
        expect(d[0]!.startsWith(' '), `${name}: first delta keeps the dummy space`).toBe(false);
      }
    }
  });

  it('drops special tokens when asked, and flushes a cut character as U+FFFD like decode', async () => {
    const tok = await loadTokenizer(join(DATA, 'llama-bpe'));
    const ids = tok.encode('The end.</s>');
    expect(deltas(tok, ids, true).join('')).toBe('The end.');
    // As the fast tokenizers: the leading-space strip only applies when text starts the output.
    expect(deltas(tok, ids, false).join('')).toBe('<s> The end.</s>');
    const e9 = tok.tokenToId('<0xE9>')!;
    const be = tok.tokenToId('<0xBE>')!;
    const cut = [...tok.encode('ok', { addSpecialTokens: false }), e9, be];
    const d = deltas(tok, cut);
    expect(d.slice(0, -1).join('')).toBe('ok');
    expect(d.join('')).toBe(tok.decode(cut));
    expect(tok.decode(cut)).toBe('ok\uFFFD');
  });

  it('skips ids the tokenizer does not know (model vocabulary padded past it)', async () => {
    const tok = await loadTokenizer(join(DATA, 'llama-bpe'));
    const ids = [...tok.encode('Hello', { addSpecialTokens: false }), tok.vocabSize + 5];
    expect(deltas(tok, ids).join('')).toBe('Hello');
    expect(tok.decode(ids)).toBe('Hello');
  });

  it('refuses push after flush', async () => {
    const tok = await loadTokenizer(join(DATA, 'llama-bpe'));
    const s = new TextStreamer(tok);
    s.flush();
    expect(() => s.push(5)).toThrow(/after flush/);
  });

  it('streams clean_up_tokenization_spaces exactly like decode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvlm-tok-'));
    cpSync(join(DATA, 'bytelevel-bpe'), dir, { recursive: true });
    const cfgPath = join(dir, 'tokenizer_config.json');
    writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(readFileSync(cfgPath, 'utf8')), clean_up_tokenization_spaces: true }));
    const tok = await loadTokenizer(dir);
    const plain = await loadTokenizer(join(DATA, 'bytelevel-bpe'));
    const text = "it is n't so , he 's here . is it ? yes ! they 're ' quoted ' and we 've I 'm  .";
    const ids = tok.encode(text);
    expect(tok.decode(ids)).toBe(cleanUpTokenization(plain.decode(ids)));
    expect(deltas(tok, ids).join('')).toBe(tok.decode(ids));
    // Random token sequences over the same pieces, cut at every place.
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let n = 0; n < 200; n++) {
      const seq = Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => ids[Math.floor(rnd() * ids.length)]!);
      expect(deltas(tok, seq).join(''), JSON.stringify(seq)).toBe(tok.decode(seq));
      expect(tok.decode(seq)).toBe(cleanUpTokenization(plain.decode(seq)));
    }
  });
});

describe('decoders without a per-token byte form', () => {
  it('stream by re-decoding (WordPiece) and still add up to decode()', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvlm-tok-'));
    const vocab: Record<string, number> = { '[UNK]': 0, '[CLS]': 1, '[SEP]': 2, hello: 3, world: 4, '##s': 5, un: 6, '##believ': 7, '##able': 8, '!': 9 };
    const json = {
      version: '1.0',
      added_tokens: [
        { id: 0, content: '[UNK]', special: true, lstrip: false, rstrip: false, normalized: false, single_word: false },
        { id: 1, content: '[CLS]', special: true, lstrip: false, rstrip: false, normalized: false, single_word: false },
        { id: 2, content: '[SEP]', special: true, lstrip: false, rstrip: false, normalized: false, single_word: false },
      ],
      normalizer: { type: 'Lowercase' },
      pre_tokenizer: { type: 'BertPreTokenizer' },
      post_processor: { type: 'BertProcessing', cls: ['[CLS]', 1], sep: ['[SEP]', 2] },
      decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
      model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
    };
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ cls_token: '[CLS]', sep_token: '[SEP]', unk_token: '[UNK]' }));
    const tok = await loadTokenizer(dir);
    const ids = tok.encode('Hello worlds unbelievable!');
    expect(ids).toEqual([1, 3, 4, 5, 6, 7, 8, 9, 2]);
    const text = tok.decode(ids, { skipSpecialTokens: true });
    expect(text).toBe('hello worlds unbelievable!');
    expect(deltas(tok, ids, true).join('')).toBe(text);
  });
});
