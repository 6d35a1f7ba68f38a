// Chat templates: the Jinja templates of tokenizer_config.json / chat_template.jinja rendered with
// @huggingface/jinja, with the variables transformers' apply_chat_template passes (messages,
// add_generation_prompt, tools, documents, the special tokens, extra kwargs).
import { Environment, Interpreter, Template } from '@huggingface/jinja';

export class ChatTemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChatTemplateError';
  }
}

/** A chat message as templates see it: role, content (a string or a list of parts), any other fields. */
export interface TemplateMessage {
  role: string;
  content?: unknown;
  [key: string]: unknown;
}

export interface ChatTemplateOptions {
  /** Append the assistant turn opener (default false, as in transformers). */
  addGenerationPrompt?: boolean;
  /** A template name ('default', 'tool_use', ...) or Jinja source that replaces the model's. */
  template?: string;
  tools?: unknown[];
  documents?: unknown[];
  /** Extra variables (e.g. {enable_thinking: false}); they override the defaults. */
  extra?: Record<string, unknown>;
}

/**
 * Bounds on one rendering: a template is code from the checkpoint, and a loop of 10^8 steps would
 * otherwise hold the process (and gigabytes) for minutes. Real templates take a few thousand steps
 * for a long conversation.
 */
export const TEMPLATE_LIMITS = { maxSteps: 1_000_000, maxMs: 2000, maxChars: 16 * 1024 * 1024 };

// @huggingface/jinja's Template.render builds its own Interpreter, so the bound is a wrapper on
// Interpreter.prototype.evaluate that is active only while renderChatTemplate runs (rendering is
// synchronous, so one module-level budget is enough). Every node evaluation is a step; a value
// over maxChars stops the rendering at once.
let budget: { steps: number; deadline: number } | undefined;
function step(): void {
  if (!budget) return;
  if (++budget.steps > TEMPLATE_LIMITS.maxSteps) {
    throw new ChatTemplateError(`chat template: rendering took more than ${TEMPLATE_LIMITS.maxSteps} steps (a runaway loop in the template?)`);
  }
  if ((budget.steps & 1023) === 0 && performance.now() > budget.deadline) {
    throw new ChatTemplateError(`chat template: rendering took more than ${TEMPLATE_LIMITS.maxMs} ms (a runaway loop in the template?)`);
  }
}
const evaluate = Interpreter.prototype.evaluate;
const evaluateBlock = Interpreter.prototype.evaluateBlock;
// Each loop iteration runs evaluateBlock (even for an empty body, which evaluates nothing).
Interpreter.prototype.evaluateBlock = function (this: Interpreter, ...args: Parameters<Interpreter['evaluateBlock']>) {
  step();
  return evaluateBlock.apply(this, args);
};
Interpreter.prototype.evaluate = function (this: Interpreter, ...args: Parameters<Interpreter['evaluate']>) {
  step();
  const out = evaluate.apply(this, args);
  const v = (out as { value?: unknown }).value;
  if (budget && typeof v === 'string' && v.length > TEMPLATE_LIMITS.maxChars) {
    throw new ChatTemplateError(`chat template: the rendered text is over ${TEMPLATE_LIMITS.maxChars} characters`);
  }
  return out;
};

/** Jinja's range(stop) / range(start, stop[, step]), refusing lists longer than the step budget. */
function boundedRange(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (![start, stop, step].every(Number.isInteger)) throw new ChatTemplateError('chat template: range() takes integers');
  if (step === 0) throw new ChatTemplateError('chat template: range() step must not be zero');
  const count = Math.max(0, Math.ceil((stop - start) / step));
  if (count > TEMPLATE_LIMITS.maxSteps) throw new ChatTemplateError(`chat template: range() of ${count} items is over the ${TEMPLATE_LIMITS.maxSteps}-step limit`);
  return Array.from({ length: count }, (_, i) => start + i * step);
}

// The built-in range() builds its whole list in one step (range(10**8) alone is gigabytes): while
// a rendering runs, the globals' JS range function is swapped for the bounded one.
const envSet = Environment.prototype.set;
Environment.prototype.set = function (this: Environment, name: string, value: unknown) {
  return envSet.call(this, name, budget && name === 'range' && typeof value === 'function' ? boundedRange : value);
};

const compiled = new Map<string, Template>();

function compile(source: string): Template {
  let t = compiled.get(source);
  if (!t) {
    try {
      // @huggingface/jinja applies trim_blocks, lstrip_blocks and drops one final newline, as
      // transformers' jinja2 environment does.
      t = new Template(source);
    } catch (e) {
      throw new ChatTemplateError(`chat template does not parse: ${(e as Error).message}`);
    }
    if (compiled.size > 32) compiled.clear();
    compiled.set(source, t);
  }
  return t;
}

/** Picks the template: a name from `templates`, inline Jinja source, or the default. */
export function selectTemplate(templates: Map<string, string>, choice: string | undefined, where: string): string {
  if (choice !== undefined) {
    const named = templates.get(choice);
    if (named !== undefined) return named;
    if (choice.includes('{{') || choice.includes('{%')) return choice;
    const names = [...templates.keys()];
    throw new ChatTemplateError(
      `${where}: no chat template named ${JSON.stringify(choice)} (${names.length ? `available: ${names.join(', ')}` : 'the model has none'})`,
    );
  }
  const def = templates.get('default');
  if (def !== undefined) return def;
  if (templates.size === 1) return [...templates.values()][0];
  if (templates.size > 1) {
    throw new ChatTemplateError(`${where}: several chat templates (${[...templates.keys()].join(', ')}) and no "default"; pass {template: name}`);
  }
  throw new ChatTemplateError(
    `${where}: no chat template (tokenizer_config.json chat_template or chat_template.jinja); pass {template: '...'} with Jinja source`,
  );
}

/** Renders `source` for `messages`; `specialTokens` are bos_token, eos_token, ... as strings. */
export function renderChatTemplate(
  source: string,
  messages: TemplateMessage[],
  specialTokens: Record<string, unknown>,
  options: ChatTemplateOptions = {},
): string {
  const vars: Record<string, unknown> = {
    ...specialTokens,
    messages,
    add_generation_prompt: options.addGenerationPrompt ?? false,
    tools: options.tools ?? null,
    documents: options.documents ?? null,
    ...(options.extra ?? {}),
  };
  const template = compile(source);
  const outer = budget;
  budget = { steps: 0, deadline: performance.now() + TEMPLATE_LIMITS.maxMs };
  try {
    const text = template.render(vars);
    if (text.length > TEMPLATE_LIMITS.maxChars) throw new ChatTemplateError(`chat template: the rendered text is over ${TEMPLATE_LIMITS.maxChars} characters`);
    return text;
  } catch (e) {
    if (e instanceof ChatTemplateError) throw e;
    // raise_exception('...') in a template lands here with the template's own message; a
    // RangeError (string too long) is a runaway template too.
    throw new ChatTemplateError(`chat template: ${(e as Error).message}`);
  } finally {
    budget = outer;
  }
}
