// HoVLE / HoVLE-HD: registry entry and public surface (model.ts: graphs + both stacks; prompt.ts:
// tiling + internlm2-chat; chat.ts: the chat model).
import { openHfCheckpoint, type ModelEntry } from '../entry.js';
import { isHovleConfig } from './model.js';
import { HovleChatModel } from './chat.js';

export { HovleChatModel, type HovleLoadOptions } from './chat.js';
export { HovleEngine, isHovleConfig, parseHovleConfig, type HovleConfig, type HovleState } from './model.js';

export const hovleEntry: ModelEntry = {
  id: 'hovle',
  kind: 'chat',
  describe: 'HoVLE / HoVLE-HD: holistic embedding + InternLM2 (model_type "internvl_chat" with a holistic embedding_config)',
  matches: (p) => !!p.config && isHovleConfig(p.config),
  load: (p, opts) => {
    const { folder, store } = openHfCheckpoint(p, opts);
    return HovleChatModel.load(folder, store, opts);
  },
};
