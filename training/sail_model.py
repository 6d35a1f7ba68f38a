"""Our own PyTorch implementation of SAIL (single transformer over raw pixel patches).

Written from /work/shared/docs/specs/sail.md (reference: ByteDance-Seed/SAIL modeling_sail.py +
example.py); checked against the sail-tiny fixture by training/check_sail_impl.py. Parameter
names are exactly the checkpoint's (model.embed_tokens, model.vis_embed, model.layers.N.*,
model.norm, lm_head) so state_dict() saves a real SAIL checkpoint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


@dataclass
class SailConfig:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    vision_patch_size: int
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    max_position_embeddings: int = 4096

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_dict(cls, d: dict) -> "SailConfig":
        names = cls.__dataclass_fields__.keys()
        return cls(**{k: d[k] for k in names if k in d})


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def mrope_cos_sin(position_ids: torch.Tensor, head_dim: int, theta: float):
    """position_ids [3, B, L] (T, H, W) -> cos, sin [B, L, head_dim] in fp32.

    SAIL's M-RoPE split (mrope_section [0, 32, 32] for head_dim 128): frequency k of the first
    half uses the H axis when k < head_dim/4, else the W axis; T is unused. Both halves of
    rotate_half share the same angles.
    """
    half = head_dim // 2
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32, device=position_ids.device) / head_dim))
    pos = position_ids.float()  # [3, B, L]
    ang = pos[..., None] * inv_freq  # [3, B, L, half]
    q = half // 2
    ang = torch.cat([ang[1, ..., :q], ang[2, ..., q:]], dim=-1)  # [B, L, half]
    emb = torch.cat([ang, ang], dim=-1)  # [B, L, head_dim]
    return emb.cos(), emb.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: SailConfig):
        super().__init__()
        self.cfg = cfg
        d, hd = cfg.hidden_size, cfg.head_dim
        self.q_proj = nn.Linear(d, cfg.num_attention_heads * hd, bias=False)
        self.k_proj = nn.Linear(d, cfg.num_key_value_heads * hd, bias=False)
        self.v_proj = nn.Linear(d, cfg.num_key_value_heads * hd, bias=False)
        self.o_proj = nn.Linear(cfg.num_attention_heads * hd, d, bias=False)

    def forward(self, x, cos, sin, mask, past=None):
        """x [B, L, D]; cos/sin [B, L, hd]; mask additive [B|1, 1, L, L+past]; past (k, v) or None."""
        B, L, _ = x.shape
        H, KV, hd = self.cfg.num_attention_heads, self.cfg.num_key_value_heads, self.cfg.head_dim
        q = self.q_proj(x).view(B, L, H, hd).transpose(1, 2)
        k = self.k_proj(x).view(B, L, KV, hd).transpose(1, 2)
        v = self.v_proj(x).view(B, L, KV, hd).transpose(1, 2)
        c, s = cos[:, None].to(q.dtype), sin[:, None].to(q.dtype)
        q = q * c + rotate_half(q) * s
        k = k * c + rotate_half(k) * s
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        present = (k, v)
        rep = H // KV  # GQA: query head h reads kv head h // rep
        kk = k.repeat_interleave(rep, dim=1)
        vv = v.repeat_interleave(rep, dim=1)
        out = F.scaled_dot_product_attention(q, kk, vv, attn_mask=mask)
        return self.o_proj(out.transpose(1, 2).reshape(B, L, H * hd)), present


class MLP(nn.Module):
    def __init__(self, cfg: SailConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: SailConfig):
        super().__init__()
        self.self_attn = Attention(cfg)
        self.mlp = MLP(cfg)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def forward(self, x, cos, sin, mask, past=None):
        a, present = self.self_attn(self.input_layernorm(x), cos, sin, mask, past)
        x = x + a
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x, present


class SailInner(nn.Module):
    def __init__(self, cfg: SailConfig):
        super().__init__()
        p = cfg.vision_patch_size
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.vis_embed = nn.Linear(3 * p * p, cfg.hidden_size, bias=False)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class SailForCausalLM(nn.Module):
    def __init__(self, cfg: SailConfig):
        super().__init__()
        self.cfg = cfg
        self.model = SailInner(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)

    def embed(self, input_ids, vision_patches=None, vision_patch_indices=None):
        """embed_tokens(ids), plus vis_embed(patch) added at <vpatch> tokens (index >= 0)."""
        x = self.model.embed_tokens(input_ids)
        if vision_patches is not None and vision_patch_indices is not None:
            ve = self.model.vis_embed(vision_patches.to(x.dtype))  # [N, D]
            ve = torch.cat([ve, ve.new_zeros(1, ve.shape[-1])], dim=0)  # row N = zero for index -1
            idx = torch.where(vision_patch_indices >= 0, vision_patch_indices, ve.shape[0] - 1)
            x = x + ve[idx]
        return x

    def forward(self, input_ids, position_ids, mask, vision_patches=None, vision_patch_indices=None,
                past=None, return_hidden=False):
        """mask: additive float mask [B|1, 1, L, L+past_len] (0 allowed, -inf blocked)."""
        x = self.embed(input_ids, vision_patches, vision_patch_indices)
        cos, sin = mrope_cos_sin(position_ids, self.cfg.head_dim, self.cfg.rope_theta)
        hidden, presents = [], []
        for i, layer in enumerate(self.model.layers):
            x, pr = layer(x, cos, sin, mask, None if past is None else past[i])
            presents.append(pr)
            hidden.append(x)
        logits = self.lm_head(self.model.norm(x))
        if return_hidden:
            return logits, presents, hidden
        return logits, presents


# ---- SAIL inputs (spec: "Image preprocessing", "Token sequence", "Attention mask", "Positions") ----

def patchify(img_u8: np.ndarray, p: int) -> np.ndarray:
    """[H, W, 3] uint8 (H, W multiples of p) -> [nh*nw, 3*p*p] float32, ImageNet-normalised,
    row-major grid, C,H,W order inside a patch."""
    x = (img_u8.astype(np.float32) / np.float32(255.0) - IMAGENET_MEAN) / IMAGENET_STD
    H, W, _ = x.shape
    nh, nw = H // p, W // p
    x = x.reshape(nh, p, nw, p, 3).transpose(0, 2, 4, 1, 3)  # nh, nw, C, dy, dx
    return np.ascontiguousarray(x.reshape(nh * nw, 3 * p * p))


def prefix_positions(nh: int, nw: int, length: int) -> np.ndarray:
    """[3, length] (T, H, W) positions for <vision> + nh*nw <vpatch> + </vision> + text."""
    s = 1
    pos = np.zeros((3, length), dtype=np.int64)
    for t in range(length):
        if t < s:
            pos[:, t] = t
        elif t < s + nh * nw:
            k = t - s
            pos[:, t] = (s, s + k // nw, s + k % nw)
        else:
            pos[:, t] = t - nh * nw + max(nh, nw)
    return pos


def prefix_mask(prefix_len: int, length: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """Additive [1, 1, L, L]: bidirectional inside the first prefix_len tokens, causal elsewhere."""
    i = torch.arange(length, device=device)[:, None]
    j = torch.arange(length, device=device)[None, :]
    allowed = ((i < prefix_len) & (j < prefix_len)) | (j <= i)
    m = torch.zeros(length, length, dtype=dtype, device=device)
    m.masked_fill_(~allowed, float("-inf"))
    return m[None, None]


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def init_weights(model: SailForCausalLM, seed: int, std: float = 0.02) -> None:
    """Mistral-style init: normal(std) Linear/Embedding weights, ones for norms."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("layernorm.weight") or name == "model.norm.weight":
                p.fill_(1.0)
            else:
                # Scale residual-branch outputs down with depth (keeps early training stable).
                s = std / math.sqrt(2 * model.cfg.num_hidden_layers) if name.endswith(("o_proj.weight", "down_proj.weight")) else std
                p.copy_(torch.randn(p.shape, generator=g) * s)
