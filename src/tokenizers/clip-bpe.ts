// CLIP's byte-level BPE from the slow-tokenizer files (vocab.json + merges.txt), as the Stable
// Diffusion repos ship it: rebuilt as the tokenizer.json that transformers' CLIPConverter
// (convert_slow_tokenizer.py) makes of them, so @huggingface/tokenizers runs it and the ids equal
// CLIPTokenizerFast's (and transformers 5's CLIPTokenizer, the same backend).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TokenizerLoadError, tokenValue, SPECIAL_TOKEN_KEYS } from './files.js';

/** CLIPTokenizer reads merges.txt lines 1 .. 49152 − 256 − 2 (the first 48894 merges), no more. */
const CLIP_MAX_MERGES = 49152 - 256 - 2;

/** CLIP's pre-tokenizer split: special strings, contractions, letter runs, single digits, other runs. */
const CLIP_SPLIT =
  "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

export function isClipTokenizerClass(cls: unknown): boolean {
  return typeof cls === 'string' && /^CLIPTokenizer(Fast)?$/.test(cls);
}

/**
 * The tokenizer.json of a CLIP BPE folder. `config` is tokenizer_config.json with
 * special_tokens_map.json on top (the pad token of SD 2.x, "!", comes from the latter).
 */
export async function clipTokenizerJson(dir: string, config: Record<string, any>): Promise<Record<string, any>> {
  const vocabPath = join(dir, 'vocab.json');
  const mergesPath = join(dir, 'merges.txt');
  for (const p of [vocabPath, mergesPath]) {
    if (!existsSync(p)) throw new TokenizerLoadError(`${dir}: CLIPTokenizer folder without ${p.slice(dir.length + 1)} (expected vocab.json and merges.txt)`);
  }
  let vocab: Record<string, number>;
  try {
    vocab = JSON.parse(await readFile(vocabPath, 'utf8'));
  } catch (e) {
    throw new TokenizerLoadError(`${vocabPath}: not valid JSON (${(e as Error).message})`);
  }
  if (!vocab || typeof vocab !== 'object' || Array.isArray(vocab)) throw new TokenizerLoadError(`${vocabPath}: expected an object {token: id}`);
  const lines = (await readFile(mergesPath, 'utf8')).trim().split('\n');
  // The slow tokenizer always skips the first line (the "#version" header).
  const merges = lines.slice(1, CLIP_MAX_MERGES + 1).map((l, i) => {
    const parts = l.split(' ');
    if (parts.length !== 2) throw new TokenizerLoadError(`${mergesPath}: line ${i + 2} is not "a b"`);
    return parts;
  });

  const bos = tokenValue(config.bos_token)?.content ?? '<|startoftext|>';
  const eos = tokenValue(config.eos_token)?.content ?? '<|endoftext|>';
  const unk = tokenValue(config.unk_token)?.content ?? '<|endoftext|>';
  const idOf = (t: string) => {
    const id = vocab[t];
    if (!Number.isInteger(id)) throw new TokenizerLoadError(`${vocabPath}: special token ${JSON.stringify(t)} is not in the vocabulary`);
    return id;
  };

  // Special tokens become added tokens (transformers registers them at load); sorted by id as it writes them.
  const added = new Map<string, Record<string, unknown>>();
  for (const key of SPECIAL_TOKEN_KEYS) {
    const v = tokenValue(config[key]);
    if (!v || added.has(v.content) || vocab[v.content] === undefined) continue;
    added.set(v.content, {
      id: vocab[v.content],
      content: v.content,
      single_word: !!v.single_word,
      lstrip: !!v.lstrip,
      rstrip: !!v.rstrip,
      // A plain-string token in the files is an AddedToken(normalized=False).
      normalized: v.normalized ?? false,
      special: true,
    });
  }

  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...added.values()].sort((a, b) => (a.id as number) - (b.id as number)),
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CLIP_SPLIT }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
    post_processor: { type: 'RobertaProcessing', sep: [eos, idOf(eos)], cls: [bos, idOf(bos)], trim_offsets: false, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unk,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}
