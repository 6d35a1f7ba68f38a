"""Converts the bench's random Llama safetensors (HF names) into a llama.cpp GGUF with the same
weights, so llama.cpp runs exactly the model tsvlm runs.

  python bench/decode/to_gguf.py DIR OUT.gguf F32|F16|Q8_0|Q4_0

llama.cpp's names (token_embd, blk.N.attn_q, ...) and its Q/K row order: HF checkpoints rotate
halves (rotate_half), llama.cpp rotates interleaved pairs, so Q and K rows are permuted back per
head as llama.cpp's own converter does. Every matrix (embeddings and output included) gets the
requested type ("pure", as tsvlm's q8/q4 quantize every Linear and the table); norms stay F32.
The vocabulary is a placeholder (the bench feeds token ids).
"""
import json, sys
import numpy as np
import gguf
from safetensors import safe_open

src, out, kind = sys.argv[1], sys.argv[2], sys.argv[3]
cfg = json.load(open(f'{src}/config.json'))
D, L, H, KV = cfg['hidden_size'], cfg['num_hidden_layers'], cfg['num_attention_heads'], cfg['num_key_value_heads']
hd = cfg.get('head_dim') or D // H
V, F = cfg['vocab_size'], cfg['intermediate_size']
qtype = {'F32': gguf.GGMLQuantizationType.F32, 'F16': gguf.GGMLQuantizationType.F16, 'Q8_0': gguf.GGMLQuantizationType.Q8_0, 'Q4_0': gguf.GGMLQuantizationType.Q4_0}[kind]
ftype = {'F32': gguf.LlamaFileType.ALL_F32, 'F16': gguf.LlamaFileType.MOSTLY_F16, 'Q8_0': gguf.LlamaFileType.MOSTLY_Q8_0, 'Q4_0': gguf.LlamaFileType.MOSTLY_Q4_0}[kind]

w = gguf.GGUFWriter(out, 'llama')
w.add_name('tsvlm-bench-random')
w.add_context_length(cfg.get('max_position_embeddings', 4096))
w.add_embedding_length(D)
w.add_block_count(L)
w.add_feed_forward_length(F)
w.add_rope_dimension_count(hd)
w.add_head_count(H)
w.add_head_count_kv(KV)
w.add_layer_norm_rms_eps(cfg.get('rms_norm_eps', 1e-5))
w.add_rope_freq_base(cfg.get('rope_theta', 10000.0))
w.add_file_type(ftype)
# Placeholder SentencePiece vocabulary: <unk> <s> </s>, 256 byte tokens, then plain pieces.
tokens = ['<unk>', '<s>', '</s>'] + [f'<0x{b:02X}>' for b in range(256)]
tokens += [f'\u2581t{i}' for i in range(V - len(tokens))]
types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + [gguf.TokenType.BYTE] * 256
types += [gguf.TokenType.NORMAL] * (V - len(types))
w.add_tokenizer_model('llama')
w.add_token_list(tokens)
w.add_token_scores([0.0] * V)
w.add_token_types(types)
w.add_bos_token_id(cfg.get('bos_token_id', 1))
w.add_eos_token_id(cfg.get('eos_token_id', 2))
w.add_unk_token_id(0)


def permute(x, n_head):
    return x.reshape(n_head, 2, x.shape[0] // n_head // 2, *x.shape[1:]).swapaxes(1, 2).reshape(x.shape)


names = {'model.embed_tokens.weight': 'token_embd.weight', 'model.norm.weight': 'output_norm.weight', 'lm_head.weight': 'output.weight'}
per_layer = {
    'input_layernorm.weight': 'attn_norm.weight', 'post_attention_layernorm.weight': 'ffn_norm.weight',
    'self_attn.q_proj.weight': 'attn_q.weight', 'self_attn.k_proj.weight': 'attn_k.weight',
    'self_attn.v_proj.weight': 'attn_v.weight', 'self_attn.o_proj.weight': 'attn_output.weight',
    'mlp.gate_proj.weight': 'ffn_gate.weight', 'mlp.up_proj.weight': 'ffn_up.weight', 'mlp.down_proj.weight': 'ffn_down.weight',
}
for i in range(L):
    for k, v in per_layer.items():
        names[f'model.layers.{i}.{k}'] = f'blk.{i}.{v}'

# torch reads bf16 (the 7B shape's checkpoint); NumPy has no bfloat16.
with safe_open(f'{src}/model.safetensors', framework='pt') as f:
    for hf, gg in names.items():
        x = f.get_tensor(hf).float().numpy()
        if hf.endswith('q_proj.weight'):
            x = permute(x, H)
        elif hf.endswith('k_proj.weight'):
            x = permute(x, KV)
        if x.ndim == 1 or qtype == gguf.GGMLQuantizationType.F32:
            w.add_tensor(gg, x)
        elif qtype == gguf.GGMLQuantizationType.F16:
            w.add_tensor(gg, x.astype(np.float16))
        else:
            w.add_tensor(gg, gguf.quants.quantize(x, qtype), raw_dtype=qtype)
        print(f'\r{gg}            ', end='', file=sys.stderr)
print(file=sys.stderr)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
