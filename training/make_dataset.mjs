#!/usr/bin/env node
// Writes a block of scenes for the Python trainers: <out>.u8 (N×64×64×3 uint8, HWC, RGB,
// scene after scene) and <out>.json ({seeds, scenes: [{seed, objects, caption, qa, qa_all, order}]}).
// Usage: node training/make_dataset.mjs --start S --count N [--shapes K] --out PREFIX
import { writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { allQuestions, conversationOrder, generateScene, SIZE } from './scenes.mjs';

function parseArgs(argv) {
  /** @type {Record<string, string>} */
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) {
      throw new Error(`make_dataset.mjs: bad argument "${argv[i]}" (expected --start S --count N [--shapes K] --out PREFIX)`);
    }
    args[argv[i].slice(2)] = argv[i + 1];
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
const start = Number(args.start ?? 0);
const count = Number(args.count ?? 0);
const shapes = args.shapes === undefined ? undefined : Number(args.shapes);
if (!args.out || !(count > 0)) throw new Error('make_dataset.mjs: --out PREFIX and --count N > 0 are required');

const fd = openSync(`${args.out}.u8`, 'w');
const scenes = [];
const chunk = new Uint8Array(SIZE * SIZE * 3 * 256);
let filled = 0;
for (let k = 0; k < count; k++) {
  const s = generateScene(start + k, { shapes });
  chunk.set(s.data, filled * s.data.length);
  filled++;
  if (filled * s.data.length === chunk.length) {
    writeSync(fd, chunk);
    filled = 0;
  }
  const objects = s.objects.map((o) => ({ shape: o.shape, colour: o.colour, cx: +o.cx.toFixed(2), cy: +o.cy.toFixed(2), r: +o.r.toFixed(2) }));
  // qa: the evaluation's one question per type; qa_all: every question (denser training);
  // order: the follow-up evaluation's conversation (indices into qa).
  scenes.push({ seed: s.seed, objects, caption: s.caption, qa: s.qa, qa_all: allQuestions(s.objects), order: conversationOrder(s) });
}
if (filled > 0) writeSync(fd, chunk.subarray(0, filled * SIZE * SIZE * 3));
closeSync(fd);
writeFileSync(`${args.out}.json`, JSON.stringify({ size: SIZE, shapes: shapes ?? null, scenes }));
