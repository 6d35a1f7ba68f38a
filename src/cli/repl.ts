// `tsvlm chat` without a question: one question per line, earlier turns kept. Answers go to stdout
// (one JSON line each with --json); the banner, prompts and notices go to stderr, so stdout stays
// parseable. Ctrl-C during an answer stops it at once and returns to the prompt (the model sees
// the abort at its next step); Ctrl-C at an empty prompt exits with 130.
import { createInterface } from 'node:readline';
import type { ChatMessage, ChatModel, ChatPart, GenerationOptions } from '../api.js';
import { ReplyPrinter, replyEvents } from './reply.js';

export interface ReplImage {
  name: string;
  bytes: Uint8Array;
}

export interface ReplConfig {
  model: ChatModel;
  images: ReplImage[];
  system?: string;
  json?: boolean;
  /** Generation options for one answer (sampling flags), with the answer's abort signal. */
  options: (signal: AbortSignal) => GenerationOptions;
  /** Folder for images the model draws (default: the current folder). */
  outDir?: string;
  /** Checks and reads an image file named by /image. */
  readImage: (file: string) => Uint8Array;
  input?: NodeJS.ReadableStream & { isTTY?: boolean };
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
}

const HELP = `commands:
  /image FILE    ask about FILE from now on (starts a new conversation)
  /system TEXT   set the system prompt (/system alone clears it)
  /reset         forget the conversation so far
  /help          this list
  /quit          exit (also Ctrl-D; Ctrl-C at an empty prompt exits with 130)
Ctrl-C during an answer stops it.`;

const EXIT = Symbol('exit');

/** Runs the REPL until /quit, end of input (0) or Ctrl-C at an empty prompt (130). */
export async function runRepl(cfg: ReplConfig): Promise<number> {
  const input = cfg.input ?? process.stdin;
  const out = cfg.out ?? process.stdout;
  const err = cfg.err ?? process.stderr;
  const note = (s: string) => err.write(`${s}\n`);
  const rl = createInterface({ input, output: err, terminal: input.isTTY === true });
  rl.setPrompt('> ');

  let images = cfg.images;
  let system = cfg.system;
  let history: ChatMessage[] = [];
  let answering: AbortController | undefined;
  /** The generation still winding down after an abort; the model runs one request at a time. */
  let pending: Promise<unknown> = Promise.resolve();

  const lines: string[] = [];
  let closed = false;
  let wake: ((v: string | null | typeof EXIT) => void) | undefined;
  const nextLine = () =>
    new Promise<string | null | typeof EXIT>((resolve) => {
      if (lines.length) resolve(lines.shift()!);
      else if (closed) resolve(null);
      else wake = resolve;
    });
  const deliver = (v: string | null | typeof EXIT) => {
    const w = wake;
    wake = undefined;
    w?.(v);
  };
  rl.on('line', (l) => (wake ? deliver(l) : lines.push(l)));
  rl.on('close', () => {
    closed = true;
    if (wake && !lines.length) deliver(null);
  });

  const onInterrupt = () => {
    if (answering) {
      answering.abort();
      return;
    }
    if (rl.line) {
      // Ctrl-C with text typed: drop the text, as a shell does.
      (rl as unknown as { line: string; cursor: number }).line = '';
      (rl as unknown as { cursor: number }).cursor = 0;
      err.write('\n');
      rl.prompt();
      return;
    }
    err.write('\n');
    if (wake) deliver(EXIT);
    else lines.unshift('\u0003');
  };
  rl.on('SIGINT', onInterrupt); // terminal: readline reads Ctrl-C as a key
  process.on('SIGINT', onInterrupt); // piped input: a real signal

  const userTurn = (text: string): ChatMessage => {
    const first = !history.some((m) => m.role === 'user');
    if (!first || !images.length) return { role: 'user', content: text };
    const parts: ChatPart[] = [...images.map((im) => ({ type: 'image' as const, image: im.bytes })), { type: 'text', text }];
    return { role: 'user', content: parts };
  };

  const ask = async (q: string) => {
    const turn = userTurn(q);
    const messages: ChatMessage[] = [...(system !== undefined ? [{ role: 'system' as const, content: system }] : []), ...history, turn];
    await pending;
    const ac = new AbortController();
    answering = ac;
    const stopped = new Promise<'abort'>((r) => ac.signal.addEventListener('abort', () => r('abort'), { once: true }));
    try {
      const stream = cfg.model.chat(messages, cfg.options(ac.signal));
      pending = stream.result.catch(() => {});
      const it = replyEvents(stream);
      const printer = new ReplyPrinter({ out, json: cfg.json, outDir: cfg.outDir });
      for (;;) {
        const next = await Promise.race([it.next(), stopped]);
        if (next === 'abort') {
          if (printer.printed) out.write('\n');
          note('[stopped]');
          void it.return?.(undefined);
          return;
        }
        if (next.done) break;
        await printer.onEvent(next.value);
      }
      const r = await stream.result;
      out.write(cfg.json ? `${printer.json(r)}\n` : '\n');
      history = [...history, turn, { role: 'assistant', content: printer.content(r) }];
    } finally {
      answering = undefined;
    }
  };

  note(`tsvlm chat with ${cfg.model.info.name}${images.length ? ` about ${images.map((i) => i.name).join(', ')}` : ''}. /help lists the commands.`);
  let code = 0;
  try {
    for (;;) {
      rl.prompt();
      const line = await nextLine();
      if (line === null) break;
      if (line === EXIT || line === '\u0003') { code = 130; break; }
      const q = line.trim();
      if (!q) continue;
      try {
        if (q === '/quit' || q === '/exit') break;
        else if (q === '/help') note(HELP);
        else if (q === '/reset') {
          history = [];
          note('conversation cleared');
        } else if (q === '/system' || q.startsWith('/system ')) {
          system = q.slice(7).trim() || undefined;
          note(system ? 'system prompt set' : 'system prompt cleared');
        } else if (q === '/image' || q.startsWith('/image ')) {
          const f = q.slice(6).trim();
          if (!f) throw new Error('/image needs a file: /image photo.jpg');
          images = [{ name: f, bytes: cfg.readImage(f) }];
          history = [];
          note(`image: ${f} (new conversation)`);
        } else if (q.startsWith('/')) note(`unknown command ${q.split(/\s/)[0]}; /help lists the commands`);
        else await ask(q);
      } catch (e) {
        note(`error: ${(e as Error).message}`);
      }
    }
  } finally {
    process.off('SIGINT', onInterrupt);
    rl.close();
    await pending;
  }
  return code;
}
