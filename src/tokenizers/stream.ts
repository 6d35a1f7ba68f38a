// Streaming detokenization for generation: push token ids as they are sampled, get the new
// text. Deltas hold back incomplete UTF-8 (a CJK character split over <0xE4><0xBD><0xA0>, an
// emoji over several byte-level tokens) until it is complete, keep SentencePiece "▁" spaces
// exactly once, and concatenate to tokenizer.decode(all ids) with the same options.
import type { Detokenizer } from './decode.js';
import type { Tokenizer } from './tokenizer.js';

export interface TextStreamerOptions {
  /** Drop special tokens (</s>, <|im_end|>, ...) from the text. Default false, as decode(). */
  skipSpecialTokens?: boolean;
}

export class TextStreamer {
  private readonly d: Detokenizer;
  private done = false;

  constructor(tokenizer: Tokenizer, options: TextStreamerOptions = {}) {
    this.d = tokenizer.createDetokenizer({ skipSpecialTokens: options.skipSpecialTokens ?? false });
  }

  /** The text that token `id` completes ('' while a character is still incomplete). */
  push(id: number): string {
    if (this.done) throw new Error('TextStreamer: push() after flush(); create a new streamer per generation');
    return this.d.push(id);
  }

  /** The rest of the text at the end of generation (U+FFFD for a character left incomplete). */
  flush(): string {
    if (this.done) return '';
    this.done = true;
    return this.d.flush();
  }
}
