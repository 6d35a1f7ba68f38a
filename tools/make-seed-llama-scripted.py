"""Makes test/data/seed-llama-scripted: a SEED-LLaMA-layout LLaMA (vocab 166 as seed-llama-tiny, with
the seed-llama-tiny test tokenizer) whose greedy output is a fixed function of the last token, so
end-to-end tests of drawing are deterministic through the real decoder graph:
  any text token → <img>;  <img> → code 0;  code k → code k+1 (k < 31);  code 31 → </img>;
  </img> → "."  ;  "." → </s>.
So every reply is one well-formed 32-code image (codes 0..31) followed by ".".
How: one-hot embeddings (hidden 168 ≥ vocab), all layer weights zero (the residual stream carries
the embedding unchanged), final RMSNorm 1, lm_head[next(t), t] = 1 → logit √168 for next(t), 0 else.
Run with a Python that has numpy + safetensors: python tools/make-seed-llama-scripted.py"""
import json
import shutil
from pathlib import Path
import numpy as np
from safetensors.numpy import save_file

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "test" / "data" / "seed-llama-scripted"
TOK = ROOT / "test" / "data" / "e2e-tokenizers" / "seed-llama-tiny"
V, D, F, L, H = 166, 168, 8, 1, 4
BOI, EOI, FIRST, DOT, EOS = 164, 165, 100, 5, 2

nxt = np.full(V, BOI)
nxt[BOI] = FIRST
for k in range(31):
    nxt[FIRST + k] = FIRST + k + 1
nxt[FIRST + 31] = EOI
nxt[EOI] = DOT
nxt[DOT] = EOS
nxt[FIRST + 32:BOI] = EOI  # codes past 31 never occur; close the span if they did

f16 = np.float16
w = {
    "model.embed_tokens.weight": np.eye(V, D, dtype=f16),
    "model.norm.weight": np.ones(D, f16),
    "lm_head.weight": np.zeros((V, D), f16),
}
w["lm_head.weight"][nxt, np.arange(V)] = 1
for i in range(L):
    p = f"model.layers.{i}."
    for n in ["q_proj", "k_proj", "v_proj", "o_proj"]:
        w[p + f"self_attn.{n}.weight"] = np.zeros((D, D), f16)
    w[p + "mlp.gate_proj.weight"] = np.zeros((F, D), f16)
    w[p + "mlp.up_proj.weight"] = np.zeros((F, D), f16)
    w[p + "mlp.down_proj.weight"] = np.zeros((D, F), f16)
    w[p + "input_layernorm.weight"] = np.ones(D, f16)
    w[p + "post_attention_layernorm.weight"] = np.ones(D, f16)

OUT.mkdir(parents=True, exist_ok=True)
save_file(w, str(OUT / "model.safetensors"))
config = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": V, "hidden_size": D,
    "intermediate_size": F, "num_hidden_layers": L, "num_attention_heads": H, "num_key_value_heads": H,
    "hidden_act": "silu", "max_position_embeddings": 512, "rms_norm_eps": 1e-6, "bos_token_id": 1,
    "eos_token_id": 2, "tie_word_embeddings": False, "rope_theta": 10000.0, "torch_dtype": "float16",
}
(OUT / "config.json").write_text(json.dumps(config, indent=2) + "\n")
for f in TOK.iterdir():
    shutil.copy(f, OUT / f.name)
print("wrote", OUT)
