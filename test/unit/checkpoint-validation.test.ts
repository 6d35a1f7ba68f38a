// Strict checkpoint validation: broken or hostile checkpoint folders fail at load with a message
// naming the file and the field, instead of loading as NaN/garbage, hanging, or eating memory.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/index.js';
import { SafetensorsFile, writeSafetensors } from '../../src/io/safetensors.js';
import { renderChatTemplate } from '../../src/tokenizers/chat-template.js';
import { FIXTURES_ROOT } from '../helpers/fixtures.js';
import { haveFixtures } from '../helpers/cli.js';

const root = resolve(__dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'tsvlm-ckpt-'));
// The suites that copy fixture checkpoints skip without ../shared, as the parity suites do.
const have = haveFixtures('llama-tiny', 'mistral-tiny', 'siglip-tiny');
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;

/** A llama-tiny (or other fixture) folder with its config edited and its weights linked. */
function folder(fixture: string, edit: (cfg: Record<string, any>) => void = () => {}, opts: { weights?: boolean } = {}): string {
  const dir = join(work, `${fixture}-${n++}`);
  mkdirSync(dir);
  const tok = join(root, 'test/data/e2e-tokenizers', fixture);
  try {
    cpSync(tok, dir, { recursive: true });
  } catch {
    // fixtures with their own tokenizer files
  }
  const cfg = JSON.parse(readFileSync(join(FIXTURES_ROOT, fixture, 'config.json'), 'utf8'));
  edit(cfg);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  if (opts.weights !== false) symlinkSync(join(FIXTURES_ROOT, fixture, 'model.safetensors'), join(dir, 'model.safetensors'));
  return dir;
}

function rawSafetensors(header: Record<string, unknown>, dataBytes: number, lengthDelta = 0): string {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length + lengthDelta));
  const p = join(work, `raw-${n++}.safetensors`);
  writeFileSync(p, Buffer.concat([len, json, Buffer.alloc(dataBytes)]));
  return p;
}

describe('safetensors offsets tile the data block', () => {
  const f32 = (begin: number, end: number) => ({ dtype: 'F32', shape: [(end - begin) / 4], data_offsets: [begin, end] });
  it('refuses overlapping offsets', () => {
    expect(() => SafetensorsFile.open(rawSafetensors({ a: f32(0, 8), b: f32(4, 12) }, 12))).toThrow(/tensor b: data_offsets \[4, 12\] overlaps the tensor before it.*tile/);
  });
  it('refuses shifted offsets (a gap)', () => {
    expect(() => SafetensorsFile.open(rawSafetensors({ a: f32(4, 12) }, 12))).toThrow(/tensor a: .*gap of 4 bytes/);
  });
  it('refuses bytes after the last tensor', () => {
    expect(() => SafetensorsFile.open(rawSafetensors({ a: f32(0, 8) }, 12))).toThrow(/cover 8 bytes but the data block .* is 12 bytes/);
  });
  it('refuses a header length one byte short', () => {
    const p = join(work, 'short.safetensors');
    writeSafetensors(p, { a: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
    const buf = readFileSync(p);
    buf.writeBigUInt64LE(buf.readBigUInt64LE(0) - 1n, 0);
    writeFileSync(p, buf);
    expect(() => SafetensorsFile.open(p)).toThrow(/short\.safetensors: the tensors cover 8 bytes but the data block after the header is 9 bytes: wrong header length/);
  });
  it('refuses a header length that points into the JSON', () => {
    expect(() => SafetensorsFile.open(rawSafetensors({ a: f32(0, 8) }, 8, 1))).toThrow(/short|JSON|header/);
  });
});

describe.skipIf(!have)('config numbers are bounded and match the tensors', () => {
  const cases: Array<[string, (c: Record<string, any>) => void, RegExp]> = [
    ['num_hidden_layers 0', (c) => (c.num_hidden_layers = 0), /config\.json: num_hidden_layers is 0; expected an integer from 1 to 1024/],
    ['num_hidden_layers -1', (c) => (c.num_hidden_layers = -1), /num_hidden_layers is -1/],
    ['num_hidden_layers 1.5', (c) => (c.num_hidden_layers = 1.5), /num_hidden_layers is 1\.5/],
    ['num_hidden_layers 1e9', (c) => (c.num_hidden_layers = 1e9), /num_hidden_layers is 1000000000/],
    ['num_hidden_layers 1 (checkpoint has 2)', (c) => (c.num_hidden_layers = 1), /num_hidden_layers is 1 but the checkpoint has 2 layers under model\.layers/],
    ['num_hidden_layers 3 (checkpoint has 2)', (c) => (c.num_hidden_layers = 3), /num_hidden_layers is 3 but the checkpoint has 2 layers/],
    ['rope_theta 0', (c) => (c.rope_theta = c.rope_parameters.rope_theta = 0), /rope_theta is 0; expected a positive number/],
    ['rope_theta a string', (c) => (c.rope_theta = c.rope_parameters.rope_theta = '10000'), /rope_theta is "10000"/],
    ['rms_norm_eps 0', (c) => (c.rms_norm_eps = 0), /config\.json: rms_norm_eps is 0; expected a number > 0/],
    ['rms_norm_eps -1e-6', (c) => (c.rms_norm_eps = -1e-6), /rms_norm_eps is -0\.000001/],
    ['hidden_size a string', (c) => (c.hidden_size = '64'), /hidden_size is "64"/],
    ['vocab_size huge', (c) => (c.vocab_size = 2 ** 40), /vocab_size is 1099511627776/],
    ['heads not a multiple of kv heads', (c) => (c.num_key_value_heads = 3), /not a multiple of num_key_value_heads 3/],
    ['model_type "constructor"', (c) => (c.model_type = 'constructor'), /model_type "constructor" is not a supported checkpoint/],
    ['model_type "__proto__"', (c) => (c.model_type = '__proto__'), /model_type "__proto__" is not a supported checkpoint/],
  ];
  for (const [name, edit, want] of cases) {
    it(`refuses ${name}`, async () => {
      await expect(loadModel(folder('llama-tiny', edit))).rejects.toThrow(want);
    });
  }
  it('refuses sliding_window -1 (mistral)', async () => {
    await expect(loadModel(folder('mistral-tiny', (c) => (c.sliding_window = -1)))).rejects.toThrow(/config\.json: sliding_window is -1/);
  });
  it('refuses a SigLIP tower whose layer count does not match', async () => {
    await expect(loadModel(folder('siglip-tiny', (c) => (c.vision_config.num_hidden_layers = 1)))).rejects.toThrow(
      /vision_config\.num_hidden_layers is 1 but the checkpoint has 2 layers/,
    );
    await expect(loadModel(folder('siglip-tiny', (c) => (c.text_config.layer_norm_eps = 0)))).rejects.toThrow(/text_config\.layer_norm_eps is 0/);
  });
  it('still loads the unmodified fixture', async () => {
    const m = await loadModel(folder('llama-tiny'));
    await m.dispose();
  });
});

describe.skipIf(!have)('sharded index', () => {
  it('refuses weight_map values that are not shard file names', async () => {
    for (const bad of [3, '../model.safetensors', null]) {
      const dir = folder('llama-tiny', () => {}, { weights: false });
      symlinkSync(join(FIXTURES_ROOT, 'llama-tiny', 'model.safetensors'), join(dir, 'shard.safetensors'));
      writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'model.norm.weight': bad } }));
      await expect(loadModel(dir)).rejects.toThrow(/model\.safetensors\.index\.json: weight_map\["model\.norm\.weight"\] is .*not the file name of a shard/);
    }
  });
});

describe.skipIf(!have)('non-regular files', () => {
  it('refuses a FIFO or /dev/zero as config, weights or tokenizer, without hanging', () => {
    const fifo = (dir: string, name: string) => {
      rmSync(join(dir, name), { force: true });
      execFileSync('mkfifo', [join(dir, name)]);
    };
    const zero = (dir: string, name: string) => {
      rmSync(join(dir, name), { force: true });
      symlinkSync('/dev/zero', join(dir, name));
    };
    const dirs: Array<[string, RegExp]> = [];
    let d = folder('llama-tiny');
    fifo(d, 'config.json');
    dirs.push([d, /config\.json: is a FIFO, not a regular file/]);
    d = folder('llama-tiny');
    zero(d, 'config.json');
    dirs.push([d, /config\.json: is a character device, not a regular file/]);
    d = folder('llama-tiny', () => {}, { weights: false });
    fifo(d, 'model.safetensors');
    dirs.push([d, /model\.safetensors: is a FIFO, not a regular file/]);
    d = folder('llama-tiny', () => {}, { weights: false });
    zero(d, 'model.safetensors');
    dirs.push([d, /model\.safetensors: is a character device/]);
    d = folder('llama-tiny');
    fifo(d, 'tokenizer.json');
    dirs.push([d, /tokenizer\.json: is a FIFO/]);
    d = folder('llama-tiny');
    zero(d, 'tokenizer_config.json');
    dirs.push([d, /tokenizer_config\.json: is a character device/]);
    const r = spawnSync(process.execPath, [join(root, 'node_modules/vite-node/vite-node.mjs'), join(__dirname, 'checkpoint-validation/nonregular.ts'), ...dirs.map(([x]) => x)], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
      // SIGKILL: a thread blocked opening a FIFO does not act on SIGTERM when the runner handles it.
      killSignal: 'SIGKILL',
    });
    expect(r.signal, `the loads hung (killed after 60 s): ${r.stdout}${r.stderr}`).toBeNull();
    const results = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { dir: string; error?: string; ms: number });
    expect(results).toHaveLength(dirs.length);
    for (const [i, [dir, want]] of dirs.entries()) {
      expect(results[i]!.dir).toBe(dir);
      expect(results[i]!.error, dir).toMatch(want);
      expect(results[i]!.ms).toBeLessThan(5000);
    }
  }, 90_000);
});

describe('chat template rendering is bounded', () => {
  it('stops a runaway loop with a clear error, quickly and without gigabytes', () => {
    const t0 = Date.now();
    expect(() => renderChatTemplate('{% for i in range(100000000) %}{% endfor %}', [{ role: 'user', content: 'hi' }], {})).toThrow(
      /chat template: (rendering took more than \d+ steps|range\(\) of 100000000 items is over)/,
    );
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
  it('stops a template whose output grows without bound', () => {
    expect(() =>
      renderChatTemplate("{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}", [], {}),
    ).toThrow(/chat template: (the rendered text is over|.*Invalid string length)/);
  });
  it('still renders ordinary templates', () => {
    const tpl = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}";
    const messages = Array.from({ length: 2000 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `message ${i}` }));
    expect(renderChatTemplate(tpl, messages, {}, { addGenerationPrompt: true })).toMatch(/^<user>message 0<assistant>message 1.*<assistant>$/);
  });
});

describe('chat template step bound', () => {
  it('stops a loop nest whose every list is small', () => {
    const t0 = Date.now();
    expect(() =>
      renderChatTemplate('{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}', [{ role: 'user', content: 'hi' }], {}),
    ).toThrow(/chat template: rendering took more than \d+ (steps|ms)/);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});
