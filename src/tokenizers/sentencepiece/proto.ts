// Reads a SentencePiece ModelProto (tokenizer.model / spiece.model) from its protobuf bytes.
// Only the fields that encoding and decoding need; see sentencepiece_model.proto
// (github.com/google/sentencepiece, src/sentencepiece_model.proto) for the field numbers.

export class SentencePieceFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SentencePieceFormatError';
  }
}

/** ModelProto.SentencePiece.Type (a plain object: const enums do not cross files under esbuild). */
export const PieceType = {
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;
export type PieceType = (typeof PieceType)[keyof typeof PieceType];

export interface SentencePiece {
  piece: string;
  score: number;
  type: PieceType;
}

export interface TrainerSpec {
  /** 1 = UNIGRAM, 2 = BPE, 3 = WORD, 4 = CHAR */
  modelType: number;
  byteFallback: boolean;
  treatWhitespaceAsSuffix: boolean;
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
  unkPiece: string;
  bosPiece: string;
  eosPiece: string;
  padPiece: string;
  unkSurface: string;
}

export interface NormalizerSpec {
  name: string;
  precompiledCharsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

export interface ModelProto {
  pieces: SentencePiece[];
  trainerSpec: TrainerSpec;
  normalizerSpec: NormalizerSpec;
}

/** Minimal protobuf wire-format reader over one message's bytes. */
class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array, readonly what: string) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  private fail(msg: string): never {
    throw new SentencePieceFormatError(`${this.what}: ${msg} at byte ${this.pos} (not a SentencePiece model, or a truncated file)`);
  }

  /** Varints up to 64 bits; negative int32/int64 values come back negative. */
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) this.fail('truncated varint');
      const b = this.buf[this.pos++];
      if (i < 7) {
        result += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) return result;
      } else {
        // Long varints: only two's-complement negatives (-1 for "unset" ids) occur in practice.
        return this.longVarint(result, mul, b, i);
      }
    }
    this.fail('varint longer than 10 bytes');
  }

  private longVarint(low: number, mul: number, first: number, start: number): number {
    let big = BigInt(low) + BigInt(first & 0x7f) * BigInt(mul);
    let shift = BigInt(7 * (start + 1));
    let b = first;
    while (b & 0x80) {
      if (this.pos >= this.buf.length) this.fail('truncated varint');
      b = this.buf[this.pos++];
      big += BigInt(b & 0x7f) << shift;
      shift += 7n;
    }
    big &= (1n << 64n) - 1n;
    if (big >= 1n << 63n) big -= 1n << 64n;
    return Number(big);
  }

  float32(): number {
    if (this.pos + 4 > this.buf.length) this.fail('truncated float');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  bytes(): Uint8Array {
    const len = this.varint();
    if (len < 0 || this.pos + len > this.buf.length) this.fail(`length ${len} past the end`);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  string(): string {
    return utf8.decode(this.bytes());
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.bytes();
        return;
      case 5:
        this.pos += 4;
        break;
      default:
        this.fail(`unsupported wire type ${wireType}`);
    }
    if (this.pos > this.buf.length) this.fail('field past the end');
  }

  /** Iterates fields: calls fn(fieldNumber, wireType); fn must consume the value or return false to skip it. */
  fields(fn: (field: number, wire: number) => boolean): void {
    while (!this.done) {
      const key = this.varint();
      const field = Math.floor(key / 8);
      const wire = key & 7;
      if (!fn(field, wire)) this.skip(wire);
    }
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

function parsePiece(buf: Uint8Array): SentencePiece {
  const r = new Reader(buf, 'SentencePiece');
  const p: SentencePiece = { piece: '', score: 0, type: PieceType.NORMAL };
  r.fields((f, w) => {
    if (f === 1 && w === 2) p.piece = r.string();
    else if (f === 2 && w === 5) p.score = r.float32();
    else if (f === 3 && w === 0) p.type = r.varint() as PieceType;
    else return false;
    return true;
  });
  return p;
}

function parseTrainerSpec(buf: Uint8Array | undefined): TrainerSpec {
  // Defaults from sentencepiece_model.proto.
  const t: TrainerSpec = {
    modelType: 1,
    byteFallback: false,
    treatWhitespaceAsSuffix: false,
    unkId: 0,
    bosId: 1,
    eosId: 2,
    padId: -1,
    unkPiece: '<unk>',
    bosPiece: '<s>',
    eosPiece: '</s>',
    padPiece: '<pad>',
    unkSurface: ' \u2047 ',
  };
  if (!buf) return t;
  const r = new Reader(buf, 'TrainerSpec');
  r.fields((f, w) => {
    if (w === 0) {
      const v = r.varint();
      if (f === 3) t.modelType = v;
      else if (f === 35) t.byteFallback = v !== 0;
      else if (f === 24) t.treatWhitespaceAsSuffix = v !== 0;
      else if (f === 40) t.unkId = v;
      else if (f === 41) t.bosId = v;
      else if (f === 42) t.eosId = v;
      else if (f === 43) t.padId = v;
      return true;
    }
    if (w === 2) {
      if (f === 45) t.unkPiece = r.string();
      else if (f === 46) t.bosPiece = r.string();
      else if (f === 47) t.eosPiece = r.string();
      else if (f === 48) t.padPiece = r.string();
      else if (f === 44) t.unkSurface = r.string();
      else return false;
      return true;
    }
    return false;
  });
  return t;
}

function parseNormalizerSpec(buf: Uint8Array | undefined): NormalizerSpec {
  const n: NormalizerSpec = {
    name: '',
    precompiledCharsmap: new Uint8Array(0),
    addDummyPrefix: true,
    removeExtraWhitespaces: true,
    escapeWhitespaces: true,
  };
  if (!buf) return n;
  const r = new Reader(buf, 'NormalizerSpec');
  r.fields((f, w) => {
    if (f === 1 && w === 2) n.name = r.string();
    else if (f === 2 && w === 2) n.precompiledCharsmap = r.bytes();
    else if (f === 3 && w === 0) n.addDummyPrefix = r.varint() !== 0;
    else if (f === 4 && w === 0) n.removeExtraWhitespaces = r.varint() !== 0;
    else if (f === 5 && w === 0) n.escapeWhitespaces = r.varint() !== 0;
    else return false;
    return true;
  });
  return n;
}

/** Parses a serialized ModelProto. `what` names the file in error messages. */
export function parseModelProto(buf: Uint8Array, what = 'tokenizer.model'): ModelProto {
  const r = new Reader(buf, what);
  const pieces: SentencePiece[] = [];
  let trainer: Uint8Array | undefined;
  let normalizer: Uint8Array | undefined;
  r.fields((f, w) => {
    if (w !== 2) return false;
    if (f === 1) pieces.push(parsePiece(r.bytes()));
    else if (f === 2) trainer = r.bytes();
    else if (f === 3) normalizer = r.bytes();
    else return false;
    return true;
  });
  if (pieces.length === 0) {
    throw new SentencePieceFormatError(`${what}: no pieces (not a SentencePiece model?)`);
  }
  return { pieces, trainerSpec: parseTrainerSpec(trainer), normalizerSpec: parseNormalizerSpec(normalizer) };
}
