// The built-in sail-scenes is trained on multi-turn conversations (training/train_sail.py,
// TextCodec.conversation). Its training ids must be exactly what tsvlm feeds the model at every
// turn: sailPromptText (the SAIL prompt builder) encoded by the model's own tokenizer after BOS.
// test/data/sail-chat-tokens/make.py records the Python ids of 250 conversations (training rows
// and held-out conversations with right, wrong, empty and run-on answers in the history).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTokenizer } from '../../src/tokenizers/index.js';
import { sailPromptText } from '../../src/models/sail.js';
import type { ChatMessage } from '../../src/api.js';

const root = join(import.meta.dirname, '..', '..');
interface Case { turns: [string, string][]; ids: number[]; prompt_lens: number[]; answer_ends: number[] }
const data = JSON.parse(readFileSync(join(root, 'test/data/sail-chat-tokens/cases.json'), 'utf8')) as { cases: Case[] };

describe('sail-scenes multi-turn training ids = tsvlm prompt ids', () => {
  it(`${data.cases.length} conversations, every turn`, async () => {
    const tok = await loadTokenizer(join(root, 'models/sail-scenes'));
    const bos = tok.bosTokenId!;
    const eos = tok.tokenToId('</s>')!;
    const ids = (messages: ChatMessage[]) => [bos, ...tok.encode(sailPromptText(messages), { addSpecialTokens: false })];
    let turns = 0;
    let followups = 0;
    for (const c of data.cases) {
      const messages: ChatMessage[] = [];
      c.turns.forEach(([q, a], k) => {
        messages.push({ role: 'user', content: q });
        // what tsvlm feeds when turn k's question is asked: the training row up to that answer
        expect(ids(messages), `turn ${k + 1} of ${JSON.stringify(c.turns)}`).toEqual(c.ids.slice(0, c.prompt_lens[k]));
        // the answer the model is trained to give there ends with </s> (tsvlm's stop token)
        expect(c.ids[c.answer_ends[k]! - 1]).toBe(eos);
        messages.push({ role: 'assistant', content: a });
        turns++;
        if (k > 0) followups++;
      });
      expect(ids(messages)).toEqual(c.ids); // the whole conversation, answers closed by </s>
    }
    expect(followups).toBeGreaterThan(900);
    console.log(`sail-chat-tokens: ${data.cases.length} conversations, ${turns} turns (${followups} follow-ups): ids equal`);
  });
});
