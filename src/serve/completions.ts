// POST /v1/completions (OpenAI's legacy text completion, still used by many tools): a prompt
// string continued by a model that can complete raw text (ChatModel.complete). It runs through
// the chat route (same validation, queue, limits, streaming and cancellation) with the model
// seen through an adapter, and the chat-shaped output is reshaped into text_completion objects.
import type { ChatMessage, ChatModel } from '../api.js';
import { readJsonBody } from './body.js';
import { handleChat } from './chat.js';
import type { ModelEntry, ServeContext } from './context.js';
import { badRequest } from './errors.js';
import { requireObject, requireString } from './validate.js';

/** The model as the chat route sees it: the (single) user message is the raw prompt. */
function completionAdapter(model: ChatModel & Required<Pick<ChatModel, 'complete'>>): ChatModel {
  const promptOf = (messages: ChatMessage[]) => messages[0]!.content as string;
  return {
    kind: 'chat',
    info: model.info,
    maxImages: 0,
    chat: (messages, opts) => model.complete(promptOf(messages), opts),
    ...(model.countCompletionTokens ? { countPromptTokens: async (messages: ChatMessage[]) => model.countCompletionTokens!(promptOf(messages)) } : {}),
    dispose: () => model.dispose(),
  };
}

/** The completion body as a chat body: prompt → one user message; completion-only fields checked here. */
function asChatBody(raw: unknown): Record<string, unknown> {
  const body = requireObject(raw, 'body');
  let prompt = body.prompt;
  if (Array.isArray(prompt)) {
    if (prompt.length !== 1) throw badRequest('prompt must be one string (batches of prompts are not supported)', 'prompt');
    prompt = prompt[0];
  }
  const text = requireString(prompt, 'prompt', { nonEmpty: true });
  for (const [k, ok, why] of [
    ['echo', (v: unknown) => v === false, 'echo is not supported'],
    ['suffix', (v: unknown) => v === '', 'suffix (insertion) is not supported'],
    ['best_of', (v: unknown) => v === 1, 'only best_of=1 is available'],
    ['logprobs', (v: unknown) => v === 0, 'log probabilities are not returned'],
  ] as const) {
    if (body[k] !== undefined && body[k] !== null && !ok(body[k])) throw badRequest(`${k}: ${why}`, k, 'unsupported_parameter');
  }
  const { prompt: _p, echo: _e, suffix: _s, best_of: _b, logprobs: _l, ...rest } = body;
  return { ...rest, messages: [{ role: 'user', content: text }] };
}

type Chunk = { id: string; created: number; model: string; choices: Array<{ delta?: { role?: string; content?: string }; message?: { content: string }; finish_reason: string | null }>; usage?: unknown };

function reshape(c: Chunk, final: boolean) {
  const choice = c.choices[0];
  return {
    id: c.id.replace(/^chatcmpl-/, 'cmpl-'),
    object: 'text_completion' as const,
    created: c.created,
    model: c.model,
    choices: choice ? [{ text: (final ? choice.message?.content : choice.delta?.content) ?? '', index: 0, logprobs: null, finish_reason: choice.finish_reason }] : [],
    ...(c.usage !== undefined ? { usage: c.usage } : {}),
  };
}

/** Rewrites the chat route's SSE events (chat.completion.chunk) as text_completion events. */
function reshapeStream(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const dec = new TextDecoder();
  const enc = new TextEncoder();
  let buf = '';
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(bytes, out) {
        buf += dec.decode(bytes, { stream: true });
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const event = buf.slice(0, end);
          buf = buf.slice(end + 2);
          if (!event.startsWith('data: ') || event === 'data: [DONE]') {
            out.enqueue(enc.encode(`${event}\n\n`)); // comments, [DONE]
            continue;
          }
          const data = JSON.parse(event.slice(6));
          if (data.error) out.enqueue(enc.encode(`${event}\n\n`));
          else if (data.choices?.[0]?.delta?.role !== undefined && !data.choices[0].delta.content) continue; // the role-only chunk
          else out.enqueue(enc.encode(`data: ${JSON.stringify(reshape(data, false))}\n\n`));
        }
      },
    }),
  );
}

export async function handleCompletions(raw: Request, ctx: ServeContext): Promise<Response> {
  const chatBody = asChatBody(await readJsonBody(raw, ctx.limits.maxBodyBytes));
  // Which model is checked here (the chat route would only see the adapter).
  const name = requireString(chatBody.model, 'model', { nonEmpty: true, maxLength: 512 });
  const entry = ctx.lookup(name);
  const model = entry.model;
  if (model.kind !== 'chat' || !model.complete) {
    throw badRequest(`model "${name}" does not continue raw text (${model.kind === 'chat' ? 'it only chats: use /v1/chat/completions' : `it is ${model.kind === 'embedding' ? 'an embedding model' : 'not a chat model'}`})`, 'model', 'wrong_model_kind');
  }
  const adapted: ModelEntry = { ...entry, model: completionAdapter(model as ChatModel & Required<Pick<ChatModel, 'complete'>>) };
  const view = Object.create(ctx) as ServeContext;
  view.lookup = (n: string) => (n === name ? adapted : ctx.lookup(n));
  const chatReq = new Request(raw.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chatBody), signal: raw.signal });
  const res = await handleChat(chatReq, view);
  if (res.headers.get('content-type')?.startsWith('text/event-stream')) return new Response(reshapeStream(res.body!), { status: res.status, headers: res.headers });
  return Response.json(reshape((await res.json()) as Chunk, true), { status: res.status });
}
