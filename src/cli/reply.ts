// Printing one streamed reply: text as it comes, and (models that draw) each finished image
// written to the output folder as PNG and named in the text. Shared by one-shot commands and the
// REPL so both show drawn images the same way and keep them in the history as their codes.
import type { ChatEvent, ChatPart, GeneratedImage, GenerationResult } from '../api.js';
import { drawnImageLine, writeDrawnImage } from './drawn-images.js';

export interface ReplyOutput {
  out: NodeJS.WritableStream;
  json?: boolean;
  /** Folder for drawn images (default: the current folder). */
  outDir?: string;
}

export { chatEvents as replyEvents } from '../generate/generate.js';

/** Collects a reply as message parts (drawn images as their codes) and the files written. */
export class ReplyPrinter {
  readonly parts: ChatPart[] = [];
  readonly files = new Map<number, string>();
  private readonly used = new Set<string>();
  printed = false;

  constructor(private readonly o: ReplyOutput) {}

  async onEvent(e: ChatEvent): Promise<void> {
    if (e.type === 'text') {
      if (!this.o.json) this.o.out.write(e.text);
      this.printed ||= e.text.length > 0;
      const last = this.parts[this.parts.length - 1];
      if (last?.type === 'text') last.text += e.text;
      else this.parts.push({ type: 'text', text: e.text });
      return;
    }
    await this.onImage(e.image);
  }

  private async onImage(g: GeneratedImage): Promise<void> {
    if (!g.error) this.parts.push({ type: 'image', image: new Uint8Array(), codes: g.codes });
    const path = await writeDrawnImage(g, this.o.outDir ?? '.', 'image', this.used);
    if (path) this.files.set(g.index, path);
    if (!this.o.json) this.o.out.write(`${this.printed ? '\n' : ''}${drawnImageLine(g, path)}\n`);
    this.printed = false;
  }

  /** The reply for the history: plain text, or parts when it holds images. */
  content(r: GenerationResult): string | ChatPart[] {
    return this.parts.some((p) => p.type === 'image') ? this.parts : r.text;
  }

  /** The --json line of the reply. */
  json(r: GenerationResult): string {
    const images = r.images?.map((g) => ({ index: g.index, codes: g.codes, ...(this.files.has(g.index) ? { file: this.files.get(g.index) } : {}), ...(g.error ? { error: g.error } : {}) }));
    return JSON.stringify({ token_ids: r.tokenIds, text: r.text, ...(images ? { images } : {}), finish_reason: r.finishReason, usage: { prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens } });
  }
}
