// Public surface of src/tokenizers: loadTokenizer + Tokenizer (tokenizer.ts), TextStreamer
// (stream.ts), chat template and error types. See tokenizer.ts for the API overview.
export { Tokenizer, loadTokenizer, type EncodeOptions, type DecodeOptions, type LoadTokenizerOptions } from './tokenizer.js';
export { TextStreamer, type TextStreamerOptions } from './stream.js';
export { ChatTemplateError, type ChatTemplateOptions, type TemplateMessage } from './chat-template.js';
export { TokenizerLoadError } from './files.js';
export { TokenizerJsonError } from './hf-json.js';
export { SentencePieceFormatError } from './sentencepiece/proto.js';
export type { AddedTokenSpec } from './added-tokens.js';
export type { Detokenizer } from './decode.js';
