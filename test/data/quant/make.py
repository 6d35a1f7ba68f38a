"""Reference for tsvlm's blockwise quantizer (src/quant/blockwise.ts), written independently in
NumPy: MatMulNBits layout, block 32 along K.
  q8: symmetric, zero point 128 implied, scale = float32(absmax / 127)
  q4: asymmetric, range [min(x, 0), max(x, 0)], scale = float32((max - min) / 15),
      zero point = clamp(round(-min / scale), 0, 15), two codes / zero points per byte, low nibble first
Codes are round(x · (1 / scale)) in float64, half up (floor(v + 0.5)) as JavaScript's Math.round.

Inputs: two Linear weights of the llama-tiny fixture (K = 64 and K = 160: an odd number of blocks)
and synthetic bf16 tensors (K = 50: a partial block; a zero row; a constant row).
Run: /work/venv/bin/python test/data/quant/make.py [fixtures root]  → reference.safetensors here.
"""
import os, sys
import numpy as np
import torch
from safetensors.numpy import load_file
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, '../../../../shared/fixtures')
BLOCK = 32


def rnd(v):
    return np.floor(v + 0.5)


def quantize(w, bits):
    w = w.astype(np.float64)
    n, k = w.shape
    kb = -(-k // BLOCK)
    codes = np.zeros((n, kb, BLOCK), np.uint8)
    scales = np.zeros((n, kb), np.float32)
    zps = np.zeros((n, kb), np.uint8)
    for r in range(n):
        for b in range(kb):
            x = w[r, b * BLOCK:(b + 1) * BLOCK]
            if bits == 8:
                s = np.float32(np.abs(x).max() / 127)
                z = 128
                q = np.full(BLOCK, 128.0)
                if s > 0:
                    q[:len(x)] = np.clip(rnd(x * (1 / np.float64(s))), -128, 127) + 128
            else:
                mn, mx = min(x.min(), 0.0), max(x.max(), 0.0)
                s = np.float32((mx - mn) / 15)
                z = int(np.clip(rnd(-mn * (1 / np.float64(s))), 0, 15)) if s > 0 else 8
                q = np.full(BLOCK, float(z))
                if s > 0:
                    q[:len(x)] = np.clip(rnd(x * (1 / np.float64(s))) + z, 0, 15)
            codes[r, b] = q.astype(np.uint8)
            scales[r, b] = s
            zps[r, b] = z
    deq = ((codes.astype(np.float32) - zps[..., None].astype(np.float32)) * scales[..., None]).reshape(n, -1)[:, :k]
    if bits == 4:
        packed = codes[..., 0::2] | (codes[..., 1::2] << 4)
        zp = np.zeros((n, -(-kb // 2) * 2), np.uint8)
        zp[:, :kb] = zps
        zpk = (zp[:, 0::2] | (zp[:, 1::2] << 4)).reshape(-1)
        return packed, scales.reshape(-1), zpk, deq
    return codes, scales.reshape(-1), None, deq


def main():
    fx = load_file(os.path.join(ROOT, 'llama-tiny', 'model.safetensors'))
    g = torch.Generator().manual_seed(15)
    odd = torch.randn(7, 50, generator=g)
    odd[3] = 0  # all-zero row: scale 0
    odd[5] = 0.25  # constant positive row
    inputs = {
        'q_proj': torch.from_numpy(fx['model.layers.0.self_attn.q_proj.weight'].astype(np.float32)),
        'down_proj': torch.from_numpy(fx['model.layers.0.mlp.down_proj.weight'].astype(np.float32)),
        'odd_bf16': odd.to(torch.bfloat16),
        'wide_bf16': (torch.randn(3, 96, generator=g) * 3).to(torch.bfloat16),
    }
    out = {}
    for name, t in inputs.items():
        out[f'{name}.input'] = t.contiguous()
        w = t.float().numpy()
        for bits in (4, 8):
            codes, scales, zp, deq = quantize(w, bits)
            out[f'{name}.q{bits}.codes'] = torch.from_numpy(np.ascontiguousarray(codes))
            out[f'{name}.q{bits}.scales'] = torch.from_numpy(scales)
            if zp is not None:
                out[f'{name}.q{bits}.zero_points'] = torch.from_numpy(zp)
            out[f'{name}.q{bits}.dequantized'] = torch.from_numpy(np.ascontiguousarray(deq))
    save_file(out, os.path.join(HERE, 'reference.safetensors'))


if __name__ == '__main__':
    main()
