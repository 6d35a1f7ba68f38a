// Chat templates: the Jinja templates of tokenizer_config.json / chat_template.jinja rendered with
// @huggingface/jinja, with the variables transformers' apply_chat_template passes (messages,
// add_generation_prompt, tools, documents, the special tokens, extra kwargs).
import { Template } from '@huggingface/jinja';

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
  try {
    return compile(source).render(vars);
  } catch (e) {
    if (e instanceof ChatTemplateError) throw e;
    // raise_exception('...') in a template lands here with the template's own message.
    throw new ChatTemplateError(`chat template: ${(e as Error).message}`);
  }
}
