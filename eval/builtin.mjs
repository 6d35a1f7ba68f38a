#!/usr/bin/env node
// Evaluates the built-in models through tsvlm (the TypeScript engine, dist/) on held-out scenes
// from the scenes generator (training/scenes.mjs): per-question-type exact match of the SAIL VLM
// on each question asked alone (turn 1) and on follow-up questions (one conversation per scene,
// the history holding tsvlm's own earlier answers, as the REPL and the web page keep them), and
// zero-shot accuracy of the SigLIP dual encoder, next to the PyTorch numbers recorded at the end
// of training (models/*/metrics.json).
//
// Usage: npm run build && node eval/builtin.mjs [--scenes N] [--seed S] [--device cpu|webgpu]
//          [--vlm DIR] [--dual DIR] [--json FILE]
// Scene k uses seed EVAL_SEED_BASE + S + k (held-out range; training used seeds < EVAL_SEED_BASE).
// The last line is exactly: overall vlm=<turn 1> dual=<zero-shot> followup=<turns 2+>  (fractions)
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { EVAL_SEED_BASE, QUESTION_TYPES, allLabels, conversationOrder, generateScene, label } from '../training/scenes.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** @param {import('../training/scenes.mjs').Scene} s */
function imageOf(s) {
  return { width: s.width, height: s.height, channels: /** @type {3} */ (3), data: s.data };
}

/**
 * Asks the VLM every question of `scenes` held-out scenes (greedy, answer trimmed, exact match).
 * @param {any} model  a tsvlm ChatModel
 * @param {{ scenes: number, seed?: number, maxNewTokens?: number, onAnswer?: (r: any) => void }} o
 */
export async function evalVlm(model, o) {
  /** @type {Record<string, { correct: number, n: number }>} */
  const perType = Object.fromEntries(QUESTION_TYPES.map((t) => [t, { correct: 0, n: 0 }]));
  const answers = [];
  for (let k = 0; k < o.scenes; k++) {
    const scene = generateScene(EVAL_SEED_BASE + (o.seed ?? 0) + k);
    const image = imageOf(scene);
    for (const qa of scene.qa) {
      const stream = model.chat(
        [{ role: 'user', content: [{ type: 'image', image }, { type: 'text', text: qa.question }] }],
        { maxNewTokens: o.maxNewTokens ?? 32 },
      );
      const got = (await stream.result).text.trim();
      const ok = got === qa.answer;
      perType[qa.type].n++;
      if (ok) perType[qa.type].correct++;
      const r = { seed: scene.seed, type: qa.type, question: qa.question, answer: qa.answer, tsvlm: got, ok };
      answers.push(r);
      o.onAnswer?.(r);
    }
  }
  const c = Object.values(perType).reduce((a, t) => a + t.correct, 0);
  const n = Object.values(perType).reduce((a, t) => a + t.n, 0);
  return { perType, overall: n ? c / n : 0, answers };
}

/**
 * Follow-up questions: per held-out scene one conversation asking its questions in
 * conversationOrder (a shuffle seeded by the scene), the image in the first user message and
 * tsvlm's own trimmed answers kept as assistant messages, as the REPL does. Turns 2+ are scored
 * (turn 1 is the question alone, which evalVlm scores).
 * @param {any} model  a tsvlm ChatModel
 * @param {{ scenes: number, seed?: number, maxNewTokens?: number, onAnswer?: (r: any) => void }} o
 */
export async function evalFollowup(model, o) {
  /** @type {Record<string, { correct: number, n: number }>} */
  const perType = Object.fromEntries(QUESTION_TYPES.map((t) => [t, { correct: 0, n: 0 }]));
  const answers = [];
  for (let k = 0; k < o.scenes; k++) {
    const scene = generateScene(EVAL_SEED_BASE + (o.seed ?? 0) + k);
    const image = imageOf(scene);
    /** @type {any[]} */
    const history = [];
    /** @type {[string, string][]} earlier (question, answer) turns, as metrics.json records them */
    const pairs = [];
    for (const [t, j] of conversationOrder(scene).entries()) {
      const qa = scene.qa[j];
      const user = t === 0 ? { role: 'user', content: [{ type: 'image', image }, { type: 'text', text: qa.question }] } : { role: 'user', content: qa.question };
      const stream = model.chat([...history, user], { maxNewTokens: o.maxNewTokens ?? 32 });
      const got = (await stream.result).text.trim();
      if (t > 0) {
        const ok = got === qa.answer;
        perType[qa.type].n++;
        if (ok) perType[qa.type].correct++;
        const r = { seed: scene.seed, turn: t + 1, type: qa.type, question: qa.question, answer: qa.answer, tsvlm: got, ok, history: pairs.map((h) => [...h]) };
        answers.push(r);
        o.onAnswer?.(r);
      }
      history.push(user, { role: 'assistant', content: got });
      pairs.push([qa.question, got]);
    }
  }
  const c = Object.values(perType).reduce((a, t) => a + t.correct, 0);
  const n = Object.values(perType).reduce((a, t) => a + t.n, 0);
  return { perType, overall: n ? c / n : 0, answers };
}

/**
 * Zero-shot classification of held-out single-shape scenes over allLabels().
 * @param {any} model  a tsvlm EmbeddingModel
 * @param {{ scenes: number, seed?: number }} o
 */
export async function evalDual(model, o) {
  const labels = allLabels();
  let correct = 0;
  const predictions = [];
  for (let k = 0; k < o.scenes; k++) {
    const scene = generateScene(EVAL_SEED_BASE + (o.seed ?? 0) + k, { shapes: 1 });
    const want = label(scene.objects[0].colour, scene.objects[0].shape);
    const scores = await model.classify(imageOf(scene), labels);
    const top = scores[0];
    if (top.label === want) correct++;
    predictions.push({ seed: scene.seed, label: want, tsvlm: top.label, top_logit: top.logit });
  }
  return { accuracy: o.scenes ? correct / o.scenes : 0, predictions };
}

/** PyTorch metrics recorded at the end of training, or null. */
export function pytorchMetrics(/** @type {string} */ dir) {
  const f = join(dir, 'metrics.json');
  return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : null;
}

function parseArgs(/** @type {string[]} */ argv) {
  const a = { scenes: 200, seed: 0, device: 'cpu', vlm: join(root, 'models/sail-scenes'), dual: join(root, 'models/siglip-scenes'), json: '' };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '');
    const v = argv[++i];
    if (!(k in a) || v === undefined) {
      throw new Error(`eval/builtin.mjs: bad argument "${argv[i - 1]}" (expected --scenes N --seed S --device cpu|webgpu --vlm DIR --dual DIR --json FILE)`);
    }
    /** @type {any} */ (a)[k] = k === 'scenes' || k === 'seed' ? Number(v) : v;
  }
  if (!Number.isInteger(a.scenes) || a.scenes < 1) throw new Error(`--scenes ${a.scenes}: expected a positive integer`);
  if (!Number.isInteger(a.seed) || a.seed < 0 || EVAL_SEED_BASE + a.seed + a.scenes > 2 ** 32) throw new Error(`--seed ${a.seed}: expected an integer >= 0 (scene seeds stay below 2^32)`);
  return a;
}

const pct = (/** @type {number|null|undefined} */ x) => (x === null || x === undefined ? '   -  ' : `${(100 * x).toFixed(1).padStart(5)}%`);

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const dist = join(root, 'dist/index.js');
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run "npm run build" first`);
  const { loadModel } = await import(pathToFileURL(dist).href);
  console.log(`held-out scenes: seeds ${EVAL_SEED_BASE + args.seed}..${EVAL_SEED_BASE + args.seed + args.scenes - 1} (${args.scenes} scenes), device ${args.device}`);

  const t0 = Date.now();
  const vlm = await loadModel(resolve(args.vlm), { device: args.device });
  if (vlm.kind !== 'chat') throw new Error(`${args.vlm}: expected a chat model (SAIL), got ${vlm.kind}`);
  const v = await evalVlm(vlm, { scenes: args.scenes, seed: args.seed });
  const f = await evalFollowup(vlm, { scenes: args.scenes, seed: args.seed });
  await vlm.dispose();
  const vpt = pytorchMetrics(args.vlm);
  console.log(`\nVLM ${args.vlm} (${((Date.now() - t0) / 1000).toFixed(0)}s)`);
  const table = (/** @type {string} */ title, /** @type {any} */ r, /** @type {any} */ pt) => {
    console.log(`  ${title.padEnd(10)} tsvlm          n   PyTorch (${vpt ? `${vpt.eval.scenes} scenes from seed ${vpt.eval.seed_start}` : 'no metrics.json'})`);
    for (const t of QUESTION_TYPES) {
      const x = r.perType[t];
      console.log(`  ${t.padEnd(10)} ${pct(x.n ? x.correct / x.n : null)} ${String(x.n).padStart(10)}   ${pct(pt?.per_type[t]?.accuracy)}`);
    }
    console.log(`  ${'overall'.padEnd(10)} ${pct(r.overall)} ${String(r.answers.length).padStart(10)}   ${pct(pt?.overall)}`);
  };
  table('turn 1', v, vpt?.eval);
  console.log('  (each question asked alone)\n');
  table('follow-up', f, vpt?.eval.followup);
  console.log('  (turns 2+ of one conversation per scene, tsvlm\'s own earlier answers in the history)');

  const t1 = Date.now();
  const dual = await loadModel(resolve(args.dual), { device: args.device });
  if (dual.kind !== 'embedding') throw new Error(`${args.dual}: expected an embedding model (SigLIP), got ${dual.kind}`);
  const d = await evalDual(dual, { scenes: args.scenes, seed: args.seed });
  await dual.dispose();
  const dpt = pytorchMetrics(args.dual);
  console.log(`\nDual encoder ${args.dual} (${((Date.now() - t1) / 1000).toFixed(0)}s)`);
  console.log(`  zero-shot over ${allLabels().length} labels on single-shape scenes: tsvlm ${pct(d.accuracy)}   PyTorch ${pct(dpt?.eval.zero_shot_accuracy)}`);

  if (args.json) writeFileSync(args.json, JSON.stringify({ args, vlm: v, followup: f, dual: d }, null, 1));
  console.log(`overall vlm=${v.overall.toFixed(4)} dual=${d.accuracy.toFixed(4)} followup=${f.overall.toFixed(4)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
