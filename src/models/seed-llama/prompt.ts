// SEED-LLaMA prompts, as the reference scripts and demo write them (no chat template in the
// checkpoint): BOS as text, images as `<img>`+codes+`</img>` text inline, tokenized as one string
// without added special tokens.
//   8B  (Vicuna):   <s>USER: {content}\nASSISTANT: {answer}\nUSER: {content}\nASSISTANT:
//   14B (LLaMA-2):  <s>[INST] {content} [/INST]\n{answer}\n[INST] {content} [/INST]\n
import { InputError, type ChatMessage } from '../../api.js';

export type SeedPromptFormat = 'vicuna' | 'llama2';

/**
 * The format of a checkpoint: the 14B model (LLaMA-2-13B base: 40 layers, 5120 wide) uses
 * [INST]; the 8B (Vicuna-7B base) and anything else USER:/ASSISTANT:. `prompt_format` in
 * config.json overrides.
 */
export function promptFormatOf(config: Record<string, any>): SeedPromptFormat {
  const f = config.prompt_format;
  if (f !== undefined) {
    if (f === 'vicuna' || f === 'llama2') return f;
    throw new InputError(`config.json: prompt_format must be "vicuna" or "llama2" (got ${JSON.stringify(f)})`);
  }
  return config.hidden_size === 5120 && config.num_hidden_layers === 40 ? 'llama2' : 'vicuna';
}

/**
 * The prompt text of a conversation. `imageText(i)` gives the span text of the i-th image part
 * (in message order). `drawNow` appends `<img>` (the demo's force_boi).
 */
export function seedPromptText(messages: ChatMessage[], format: SeedPromptFormat, bos: string, imageText: (i: number) => string, boi: string, drawNow = false): string {
  let img = 0;
  const content = (m: ChatMessage) => {
    if (typeof m.content === 'string') return m.content;
    return m.content.map((p) => (p.type === 'text' ? p.text : imageText(img++))).join('');
  };
  let text = bos;
  const system = messages.filter((m) => m.role === 'system').map(content).join('\n');
  if (format === 'vicuna') {
    if (system) text += system + '\n';
    for (const m of messages) {
      if (m.role === 'user') text += 'USER: ' + content(m) + '\n';
      else if (m.role === 'assistant') text += 'ASSISTANT: ' + content(m) + '\n';
    }
    text += 'ASSISTANT:';
  } else {
    if (system) text += `<<SYS>>\n${system}\n<</SYS>>\n\n`;
    for (const m of messages) {
      if (m.role === 'user') text += '[INST] ' + content(m) + ' [/INST]\n';
      else if (m.role === 'assistant') text += content(m) + '\n';
    }
  }
  return drawNow ? text + boi : text;
}
