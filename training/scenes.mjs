// Scenes world: the one deterministic generator of synthetic images + captions + Q/A pairs
// used to train the built-in models (Python calls it through `node`) and to evaluate them
// (eval/builtin.mjs). Plain dependency-free ESM so both sides see identical pixels.
//
// Seeds (document any change in models/*/README.md):
//   train scenes    : seeds [0, 1_000_000_000)      (training uses 0, 1, 2, ...)
//   held-out scenes : seeds [1_000_000_000, 2^32)   (EVAL_SEED_BASE + k)
// A scene is a pure function of (seed, options); options.shapes fixes the number of shapes
// (the dual-encoder zero-shot set uses shapes: 1).

/** @typedef {'circle'|'square'|'triangle'|'cross'} ShapeName */
/** @typedef {'red'|'green'|'blue'|'yellow'|'purple'} ColourName */
/**
 * @typedef {object} SceneObject
 * @property {ShapeName} shape
 * @property {ColourName} colour
 * @property {number} cx  centre x in pixels (0 = left edge)
 * @property {number} cy  centre y in pixels (0 = top edge)
 * @property {number} r   size ("radius") in pixels
 */
/**
 * @typedef {'colour'|'shape'|'count'|'presence'|'position'|'describe'} QuestionType
 * @typedef {{ type: QuestionType, question: string, answer: string }} QA
 */
/**
 * @typedef {object} Scene
 * @property {number} seed
 * @property {number} width
 * @property {number} height
 * @property {Uint8Array} data      RGB, HWC, uint8
 * @property {SceneObject[]} objects
 * @property {string} caption
 * @property {QA[]} qa              at most one question per type, in QUESTION_TYPES order
 */

export const SIZE = 64;
export const EVAL_SEED_BASE = 1_000_000_000;
export const TRAIN_SEED_LIMIT = EVAL_SEED_BASE;

/** @type {ShapeName[]} */
export const SHAPES = ['circle', 'square', 'triangle', 'cross'];
/** @type {Record<ShapeName, string>} */
export const PLURALS = { circle: 'circles', square: 'squares', triangle: 'triangles', cross: 'crosses' };
/** @type {ColourName[]} */
export const COLOURS = ['red', 'green', 'blue', 'yellow', 'purple'];
/** @type {Record<ColourName, [number, number, number]>} */
const RGB = {
  red: [215, 40, 40],
  green: [40, 160, 60],
  blue: [45, 85, 215],
  yellow: [235, 200, 35],
  purple: [145, 65, 190],
};
export const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four'];
/** @type {QuestionType[]} */
export const QUESTION_TYPES = ['colour', 'shape', 'count', 'presence', 'position', 'describe'];

/** Zero-shot label for a single-shape scene (dual encoder). */
export function label(/** @type {ColourName} */ colour, /** @type {ShapeName} */ shape) {
  return `a photo of a ${colour} ${shape}`;
}

/** All zero-shot labels, in COLOURS × SHAPES order. */
export function allLabels() {
  return COLOURS.flatMap((c) => SHAPES.map((s) => label(c, s)));
}

/**
 * Deterministic PRNG: splitmix32-style seed hashing (so neighbouring seeds give unrelated
 * streams) feeding mulberry32. Returns floats in [0, 1).
 * @param {number} seed
 */
export function makeRng(seed) {
  let h = (seed >>> 0) ^ 0x9e3779b9;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  let a = (h ^ (h >>> 16)) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** @param {() => number} rng @param {number} n integer in [0, n) */
function randInt(rng, n) {
  return Math.floor(rng() * n);
}

/** @template T @param {() => number} rng @param {T[]} xs @returns {T} */
function pick(rng, xs) {
  return xs[randInt(rng, xs.length)];
}

/**
 * The order in which one conversation about the scene asks its questions (`scene.qa`): indices
 * into `qa`, a shuffle seeded by the scene's seed alone, so the follow-up evaluation of tsvlm
 * (eval/builtin.mjs) and of PyTorch (train_sail.py, through make_dataset.mjs) ask the same turns.
 * @param {{ seed: number, qa: QA[] }} scene
 * @returns {number[]}
 */
export function conversationOrder(scene) {
  const rng = makeRng((scene.seed + 0x632be5ab) >>> 0);
  const order = scene.qa.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = randInt(rng, i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** Is (x, y) inside the shape? Geometry in pixel units, y pointing down. */
function inside(/** @type {SceneObject} */ o, /** @type {number} */ x, /** @type {number} */ y) {
  const dx = x - o.cx;
  const dy = y - o.cy;
  switch (o.shape) {
    case 'circle':
      return dx * dx + dy * dy <= o.r * o.r;
    case 'square': {
      const h = o.r * 0.85; // similar area to the circle
      return Math.abs(dx) <= h && Math.abs(dy) <= h;
    }
    case 'triangle': {
      // Upright isosceles triangle: apex at top, base at bottom.
      const top = -o.r * 1.05;
      const bottom = o.r * 0.85;
      if (dy < top || dy > bottom) return false;
      const half = ((dy - top) / (bottom - top)) * o.r * 1.1;
      return Math.abs(dx) <= half;
    }
    case 'cross': {
      const t = o.r * 0.36;
      const ax = Math.abs(dx);
      const ay = Math.abs(dy);
      return (ax <= o.r && ay <= t) || (ay <= o.r && ax <= t);
    }
  }
}

const SS = 4; // supersampling per axis (anti-aliasing)

/** Blend one shape into the image with SS×SS coverage per pixel. */
function rasterise(/** @type {Uint8Array} */ data, /** @type {SceneObject} */ o, /** @type {number[]} */ rgb) {
  const ext = o.r * 1.2 + 1;
  const x0 = Math.max(0, Math.floor(o.cx - ext));
  const x1 = Math.min(SIZE - 1, Math.ceil(o.cx + ext));
  const y0 = Math.max(0, Math.floor(o.cy - ext));
  const y1 = Math.min(SIZE - 1, Math.ceil(o.cy + ext));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      let hits = 0;
      for (let sy = 0; sy < SS; sy++) {
        for (let sx = 0; sx < SS; sx++) {
          if (inside(o, x + (sx + 0.5) / SS, y + (sy + 0.5) / SS)) hits++;
        }
      }
      if (hits === 0) continue;
      const a = hits / (SS * SS);
      const i = (y * SIZE + x) * 3;
      for (let c = 0; c < 3; c++) data[i + c] = Math.round(data[i + c] * (1 - a) + rgb[c] * a);
    }
  }
}

/** @param {number} n */
function countPhrase(n, /** @type {ColourName} */ colour, /** @type {ShapeName} */ shape) {
  return n === 1 ? `a ${colour} ${shape}` : `${NUMBER_WORDS[n]} ${colour} ${PLURALS[shape]}`;
}

/**
 * Caption: groups of identical (colour, shape), ordered by SHAPES then COLOURS (a fixed,
 * learnable order), e.g. "two red circles and a blue square".
 * @param {SceneObject[]} objects
 */
export function caption(objects) {
  const parts = [];
  for (const s of SHAPES) {
    for (const c of COLOURS) {
      const n = objects.filter((o) => o.shape === s && o.colour === c).length;
      if (n > 0) parts.push(countPhrase(n, c, s));
    }
  }
  if (parts.length === 1) return parts[0];
  return `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

const POSITION_MARGIN = 6; // px from the centre line: closer objects get no position question

// Question templates (one place, shared by questions() and allQuestions()).
const Q = {
  colour: (/** @type {ShapeName} */ s) => `What colour is the ${s}?`,
  shape: (/** @type {ColourName} */ c) => `What shape is the ${c} object?`,
  countAll: 'How many shapes are there?',
  count: (/** @type {ShapeName} */ s) => `How many ${PLURALS[s]} are there?`,
  presence: (/** @type {ColourName} */ c, /** @type {ShapeName} */ s) => `Is there a ${c} ${s}?`,
  leftRight: (/** @type {SceneObject} */ o) => `Is the ${o.colour} ${o.shape} on the left or the right?`,
  topBottom: (/** @type {SceneObject} */ o) => `Is the ${o.colour} ${o.shape} at the top or the bottom?`,
  describe: 'Describe the image.',
};

/** The facts questions are asked about: unique shapes/colours, absent combinations, positions. */
function facts(/** @type {SceneObject[]} */ objects) {
  const byShape = (/** @type {ShapeName} */ s) => objects.filter((o) => o.shape === s);
  const byColour = (/** @type {ColourName} */ c) => objects.filter((o) => o.colour === c);
  const same = (/** @type {SceneObject} */ o) =>
    objects.filter((p) => p.shape === o.shape && p.colour === o.colour).length;
  const absent = COLOURS.flatMap((c) => SHAPES.map((s) => /** @type {const} */ ([c, s]))).filter(
    ([c, s]) => !objects.some((o) => o.colour === c && o.shape === s),
  );
  /** @type {QA[]} */
  const pos = [];
  for (const o of objects) {
    if (same(o) !== 1) continue;
    const dx = o.cx - SIZE / 2;
    const dy = o.cy - SIZE / 2;
    if (Math.abs(dx) >= POSITION_MARGIN) pos.push({ type: 'position', question: Q.leftRight(o), answer: dx < 0 ? 'left' : 'right' });
    if (Math.abs(dy) >= POSITION_MARGIN) pos.push({ type: 'position', question: Q.topBottom(o), answer: dy < 0 ? 'top' : 'bottom' });
  }
  return {
    byShape,
    byColour,
    uniqueShapes: SHAPES.filter((s) => byShape(s).length === 1),
    uniqueColours: COLOURS.filter((c) => byColour(c).length === 1),
    absent,
    // Hard negatives: a colour or a shape that is in the scene, in another combination.
    hard: absent.filter(([c, s]) => objects.some((o) => o.colour === c || o.shape === s)),
    pos,
  };
}

/**
 * One unambiguous question per type (when the scene allows one), chosen with rng.
 * @param {SceneObject[]} objects @param {() => number} rng @returns {QA[]}
 */
export function questions(objects, rng) {
  /** @type {QA[]} */
  const qa = [];
  const f = facts(objects);
  if (f.uniqueShapes.length > 0) {
    const s = pick(rng, f.uniqueShapes);
    qa.push({ type: 'colour', question: Q.colour(s), answer: f.byShape(s)[0].colour });
  }
  if (f.uniqueColours.length > 0) {
    const c = pick(rng, f.uniqueColours);
    qa.push({ type: 'shape', question: Q.shape(c), answer: f.byColour(c)[0].shape });
  }
  if (rng() < 0.5) {
    qa.push({ type: 'count', question: Q.countAll, answer: NUMBER_WORDS[objects.length] });
  } else {
    const s = pick(rng, SHAPES);
    qa.push({ type: 'count', question: Q.count(s), answer: NUMBER_WORDS[f.byShape(s).length] });
  }
  if (rng() < 0.5) {
    const o = pick(rng, objects);
    qa.push({ type: 'presence', question: Q.presence(o.colour, o.shape), answer: 'yes' });
  } else {
    const [c, s] = pick(rng, f.hard.length > 0 && rng() < 0.8 ? f.hard : f.absent);
    qa.push({ type: 'presence', question: Q.presence(c, s), answer: 'no' });
  }
  if (f.pos.length > 0) qa.push(pick(rng, f.pos));
  qa.push({ type: 'describe', question: Q.describe, answer: caption(objects) });
  return qa;
}

/**
 * Every question the scene allows, for training (denser supervision per image; evaluation
 * keeps questions()): colour of each unique shape, shape of each unique colour, all counts,
 * presence of each present combination and of each hard negative, every position, describe.
 * @param {SceneObject[]} objects @returns {QA[]}
 */
export function allQuestions(objects) {
  const f = facts(objects);
  /** @type {QA[]} */
  const qa = [];
  for (const s of f.uniqueShapes) qa.push({ type: 'colour', question: Q.colour(s), answer: f.byShape(s)[0].colour });
  for (const c of f.uniqueColours) qa.push({ type: 'shape', question: Q.shape(c), answer: f.byColour(c)[0].shape });
  qa.push({ type: 'count', question: Q.countAll, answer: NUMBER_WORDS[objects.length] });
  for (const s of SHAPES) qa.push({ type: 'count', question: Q.count(s), answer: NUMBER_WORDS[f.byShape(s).length] });
  const present = new Set(objects.map((o) => `${o.colour} ${o.shape}`));
  for (const cs of present) {
    const [c, s] = /** @type {[ColourName, ShapeName]} */ (cs.split(' '));
    qa.push({ type: 'presence', question: Q.presence(c, s), answer: 'yes' });
  }
  for (const [c, s] of f.hard) qa.push({ type: 'presence', question: Q.presence(c, s), answer: 'no' });
  qa.push(...f.pos);
  qa.push({ type: 'describe', question: Q.describe, answer: caption(objects) });
  return qa;
}

/**
 * Generate one scene.
 * @param {number} seed  non-negative integer < 2^32
 * @param {{ shapes?: number }} [options]  shapes: fixed object count 1..4 (default: uniform 1..4)
 * @returns {Scene}
 */
export function generateScene(seed, options = {}) {
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new Error(`scene seed ${seed}: expected an integer in [0, 2^32)`);
  }
  const rng = makeRng(seed);
  const n = options.shapes ?? 1 + randInt(rng, 4);
  if (!Number.isInteger(n) || n < 1 || n > 4) throw new Error(`shapes=${n}: expected 1..4`);

  // Background: light, slightly tinted, plain or lightly noisy.
  const data = new Uint8Array(SIZE * SIZE * 3);
  const base = 200 + rng() * 45;
  const tint = [0, 1, 2].map(() => base + (rng() - 0.5) * 20);
  const noise = rng() < 0.5 ? 0 : rng() * 12;
  for (let i = 0; i < SIZE * SIZE; i++) {
    for (let c = 0; c < 3; c++) {
      const v = tint[c] + (noise > 0 ? (rng() - 0.5) * 2 * noise : 0);
      data[i * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }

  // Objects: rejection-sampled so that bounding circles do not overlap.
  /** @type {SceneObject[]} */
  const objects = [];
  let tries = 0;
  while (objects.length < n) {
    tries++;
    const shrink = tries > 200 ? 0.75 : 1; // crowded scenes: allow smaller shapes
    const r = (7 + rng() * 5) * shrink;
    const m = r * 1.2 + 1;
    const o = {
      shape: pick(rng, SHAPES),
      colour: pick(rng, COLOURS),
      cx: m + rng() * (SIZE - 2 * m),
      cy: m + rng() * (SIZE - 2 * m),
      r,
    };
    const clear = objects.every((p) => Math.hypot(p.cx - o.cx, p.cy - o.cy) >= (p.r + o.r) * 1.2 + 2);
    if (clear) objects.push(o);
    if (tries > 2000) throw new Error(`scene ${seed}: could not place ${n} shapes`);
  }
  for (const o of objects) {
    const rgb = RGB[o.colour].map((v) => Math.max(0, Math.min(255, v + (rng() - 0.5) * 30)));
    rasterise(data, o, rgb);
  }
  return { seed, width: SIZE, height: SIZE, data, objects, caption: caption(objects), qa: questions(objects, rng) };
}
