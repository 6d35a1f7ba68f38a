// The model registry: each kind of checkpoint folder finds its entry; odd model_types find none.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findModelEntry, MODEL_REGISTRY, probeCheckpoint } from '../../src/models/registry.js';
import { loadModel } from '../../src/index.js';

function folder(config?: unknown): string {
  const d = mkdtempSync(join(tmpdir(), 'tsvlm-reg-'));
  if (config !== undefined) writeFileSync(join(d, 'config.json'), JSON.stringify(config));
  return d;
}

describe('model registry', () => {
  it('has unique ids', () => {
    const ids = MODEL_REGISTRY.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('recognises each kind of checkpoint from config.json', () => {
    const id = (cfg: unknown) => findModelEntry(probeCheckpoint(folder(cfg)))?.id;
    expect(id({ model_type: 'siglip' })).toBe('siglip');
    expect(id({ model_type: 'mistral', vision_patch_size: 32 })).toBe('sail');
    expect(id({ model_type: 'mistral' })).toBe('mistral');
    expect(id({ model_type: 'llama' })).toBe('llama');
    expect(id({ model_type: 'internlm2' })).toBe('internlm2');
    expect(id({ model_type: 'seed_qformer_quantizer' })).toBe('seed_qformer_quantizer');
    expect(id({ model_type: 'seed_v1_visual_tokenizer' })).toBe('seed_v1_visual_tokenizer');
    expect(id({ model_type: 'internvl_chat', embedding_config: { model_type: 'holistic_embedding' }, llm_config: { model_type: 'internlm2' } })).toBe('hovle');
    expect(id({ model_type: 'internvl_chat', vision_config: { model_type: 'intern_vit_6b' } })).toBeUndefined();
  });

  it('recognises the released SEED v2 tokenizer by its file (no config.json)', () => {
    const d = folder();
    writeFileSync(join(d, 'seed_quantizer.pt'), '');
    expect(findModelEntry(probeCheckpoint(d))?.id).toBe('seed_qformer_quantizer');
  });

  it('never matches prototype keys or non-string model_types', () => {
    for (const t of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 1, null, ['llama'], { a: 1 }]) {
      expect(findModelEntry(probeCheckpoint(folder({ model_type: t })))).toBeUndefined();
    }
  });

  it('names the folder and lists what it loads when nothing matches', async () => {
    const d = folder({ model_type: 'bert' });
    await expect(loadModel(d)).rejects.toThrow(/model_type "bert" is not a supported checkpoint[\s\S]*siglip/);
    await expect(loadModel(folder())).rejects.toThrow(/not a checkpoint folder tsvlm recognises \(no config\.json/);
    const bad = folder();
    writeFileSync(join(bad, 'config.json'), '[1, 2]');
    await expect(loadModel(bad)).rejects.toThrow(/config\.json: expected a JSON object/);
  });
});
