// Character bounds applied before any tokenizing, so that the cost of a request's text is bounded
// by what the model can read, not by the body size. A token of a real vocabulary spans at most a
// few dozen characters, so a model that reads N tokens never needs more than N × CHARS_PER_TOKEN
// characters: longer embedding texts are cut (the tokens the model reads do not change), and a
// chat prompt longer than that cannot fit the context and is refused without tokenizing it.
import type { ChatModel, EmbeddingModel } from '../api.js';
import { badRequest } from './errors.js';
import type { Limits } from './limits.js';
import type { PendingMessage } from './openai.js';

export const CHARS_PER_TOKEN = 32;

/** Most characters of prompt text a chat request may carry. */
export function chatCharCap(model: ChatModel, limits: Limits): number {
  const ctx = model.info.contextLength;
  return Math.min(limits.maxTextChars, ctx ? ctx * CHARS_PER_TOKEN : Infinity);
}

/** Refuses (400 context_length_exceeded) a chat whose text is over chatCharCap, before tokenizing. */
export function checkChatChars(model: ChatModel, messages: readonly PendingMessage[], limits: Limits): void {
  const cap = chatCharCap(model, limits);
  let chars = 0;
  for (const m of messages) {
    if (typeof m.content === 'string') chars += m.content.length;
    else for (const p of m.content) if (p.type === 'text') chars += p.text.length;
  }
  if (chars > cap) {
    const ctx = model.info.contextLength;
    throw badRequest(
      `the messages hold ${chars} characters of text; ${ctx ? `this model's context is ${ctx} tokens, and ` : ''}at most ${cap} characters are accepted`,
      'messages',
      'context_length_exceeded',
    );
  }
}

/** Cuts each embedding text to what the model can read (contextLength × CHARS_PER_TOKEN, or maxTextChars). */
export function capEmbeddingText(model: EmbeddingModel, text: string, limits: Limits): string {
  const ctx = model.info.contextLength;
  const cap = Math.min(limits.maxTextChars, ctx ? ctx * CHARS_PER_TOKEN : Infinity);
  return text.length > cap ? text.slice(0, cap) : text;
}
