"""Trains the built-in SAIL-architecture VLM (training/sail_model.py) on the scenes world and
exports a real SAIL checkpoint (config.json, model.safetensors, generation_config.json,
metrics.json) into --out, next to the tokenizer files made by build_tokenizers.py.

Each training sequence is exactly what tsvlm's SAIL prompt builder produces:
  <vision> <vpatch>×64 </vision> <s> encode("[INST] {question} [/INST]") answer </s>
with the loss on the answer tokens and </s>. The image prefix is run once per scene and its
KV cache shared by all the scene's questions (same math as one full pass: the prefix never
attends to the text; check_sail_impl.py checks the prefix-cache path against the reference).

Usage: python training/train_sail.py --out models/sail-scenes [--device cpu|cuda]
(training/README.md has the commands that made the shipped checkpoint).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from tokenizers import Tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_tokenizers import VISION_TOKENS, sail_prompt  # noqa: E402
from patch_targets import PatchTargets  # noqa: E402
from sail_model import SailConfig, SailForCausalLM, count_params, init_weights, patchify, prefix_mask, prefix_positions  # noqa: E402
from scenes_data import EVAL_SEED_BASE, QUESTION_TYPES, SIZE, make_dataset  # noqa: E402

BOS, EOS = 1, 2
SHORT_ROW = 15  # text rows up to this many tokens go to the short bucket


def chat_text(turns: list[tuple[str, str | None]]) -> str:
    """The text of a conversation (after BOS) exactly as tsvlm's sailPromptText writes it:
    "[INST] q1 [/INST] a1</s>[INST] q2 [/INST]" (each message trimmed, an answer preceded by one
    space and closed by </s>); a None answer ends the text after its [/INST] (the prompt of that turn)."""
    out = ""
    for q, a in turns:
        out += sail_prompt(q.strip())
        if a is not None:
            out += f" {a.strip()}</s>"
    return out


class TextCodec:
    """Token ids of prompts and conversations, encoded like tsvlm: the whole chat_text string at
    once (</s> is a special token, so the text after it tokenizes on its own: "[INST]" after an
    answer becomes "[" "INST]", not the first turn's "▁[INST]")."""

    def __init__(self, tok: Tokenizer):
        self.tok = tok
        self.cache: dict[str, list[int]] = {}

    def ids(self, text: str) -> list[int]:
        if text not in self.cache:
            if len(self.cache) > 200_000:
                self.cache.clear()
            self.cache[text] = self.tok.encode(text, add_special_tokens=False).ids
        return self.cache[text]

    def prompt(self, turns: list[tuple[str, str | None]]) -> list[int]:
        """Ids tsvlm feeds after BOS for the last turn's question (turns[-1]'s answer is ignored)."""
        return self.ids(chat_text(turns[:-1] + [(turns[-1][0], None)]))

    def conversation(self, turns: list[tuple[str, str]]) -> tuple[list[int], list[tuple[int, int]]]:
        """Ids (after BOS) of a whole conversation and, per turn, the [start, end) span of its answer
        tokens and closing </s> (the loss targets). Each turn's prompt ids must be a prefix of the
        whole: what tsvlm feeds at turn k is exactly the sequence trained up to answer k."""
        full = self.ids(chat_text(turns))
        eos_at = [j for j, t in enumerate(full) if t == EOS]
        assert len(eos_at) == len(turns), f"expected one </s> per answer: {turns!r}"
        spans = []
        for k in range(len(turns)):
            p = self.prompt(turns[: k + 1])
            assert full[: len(p)] == p, f"turn {k}'s prompt is not a prefix of the conversation's tokens: {turns!r}"
            spans.append((len(p), eos_at[k] + 1))
        return full, spans

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids, skip_special_tokens=True).strip()


def build_config(args, vocab_size: int, tok: Tokenizer) -> dict:
    vis = {t: tok.token_to_id(t) for t in VISION_TOKENS}
    return {
        "architectures": ["SailForCausalLM"],
        "model_type": "mistral",
        "vocab_size": vocab_size,
        "hidden_size": args.hidden,
        "intermediate_size": args.ffn,
        "num_hidden_layers": args.layers,
        "num_attention_heads": args.heads,
        "num_key_value_heads": args.kv_heads,
        "hidden_act": "silu",
        "max_position_embeddings": 1024,
        "initializer_range": 0.02,
        "rms_norm_eps": 1e-5,
        "use_cache": True,
        "pad_token_id": None,
        "bos_token_id": BOS,
        "eos_token_id": EOS,
        "tie_word_embeddings": False,
        "rope_theta": args.rope_theta,
        "rope_parameters": {"rope_type": "default", "rope_theta": args.rope_theta},
        "sliding_window": None,
        "attention_dropout": 0.0,
        "vision_patch_size": args.patch,
        "torch_dtype": "float32",
        "vision_special_tokens": vis,
        "vis_beg_tok_id": vis["<vision>"],
        "vis_patch_tok_id": vis["<vpatch>"],
        "vis_rsep_tok_id": vis["<vrow_sep>"],
        "vis_frm_tok_id": vis["<vframe_sep>"],
        "vis_end_tok_id": vis["</vision>"],
        "vis_cls_tok_id": vis["<|vis_cls|>"],
    }


class Layout:
    """Fixed prefix layout for 64×64 scenes: ids, positions, patch indices of the image prefix."""

    def __init__(self, cfg: dict, device):
        p = cfg["vision_patch_size"]
        self.nh = self.nw = SIZE // p
        n = self.nh * self.nw
        self.P = n + 2
        ids = [cfg["vis_beg_tok_id"]] + [cfg["vis_patch_tok_id"]] * n + [cfg["vis_end_tok_id"]]
        self.prefix_ids = torch.tensor([ids], device=device)
        self.pidx = torch.tensor([[-1] + list(range(n)) + [-1]], device=device)
        self.device = device

    def positions(self, length: int) -> torch.Tensor:
        """[3, 1, length] positions of the whole sequence (prefix + text)."""
        return torch.from_numpy(prefix_positions(self.nh, self.nw, length))[:, None].to(self.device)

    def patches(self, images: np.ndarray, p: int) -> torch.Tensor:
        """[B, 64, 64, 3] uint8 -> [B*n, 3*p*p] (numpy, float32, exactly the spec's recipe)."""
        return torch.from_numpy(np.concatenate([patchify(im, p) for im in images])).to(self.device)

    def run_prefix(self, model, images: np.ndarray, p: int, return_hidden: bool = False):
        B = len(images)
        n = self.nh * self.nw
        patches = self.patches(images, p)
        pidx = self.pidx.expand(B, -1) + torch.where(self.pidx >= 0, torch.arange(B, device=self.device)[:, None] * n, 0)
        mask = prefix_mask(self.P, self.P, device=self.device)
        out = model(self.prefix_ids.expand(B, -1), self.positions(self.P)[:, :, : self.P], mask, patches, pidx,
                    return_hidden=return_hidden)
        return out[1:] if return_hidden else out[1]

    def text_mask(self, T: int) -> torch.Tensor:
        """[1, 1, T, P+T]: text rows see the whole prefix and earlier text (causal)."""
        m = torch.zeros(T, self.P + T, device=self.device)
        m[:, self.P:] = torch.triu(torch.full((T, T), float("-inf"), device=self.device), diagonal=1)
        return m[None, None]


def expand_past(past, rows: torch.Tensor):
    return [(k.index_select(0, rows), v.index_select(0, rows)) for k, v in past]


def training_questions(scene: dict, extra: int, rng: np.random.Generator, dense: bool = False) -> list[dict]:
    """The scene's caption ("Describe the image.": colours, shapes and counts in one answer) plus
    `extra` questions of distinct random types drawn from every question the scene allows
    (qa_all; presence: "yes" or "no" with equal chance). extra < 0: the evaluation's own qa.

    Few text rows per image on purpose: the image prefix is the cheap part of a scene only when
    the text is short, and the model needs many images to learn shapes from raw patches (the
    dual encoder needed ~100k images); more questions per image cost images per second."""
    if extra < 0:
        return scene["qa"]
    by_type: dict[str, list[dict]] = {}
    for qa in scene["qa_all"]:
        key = qa["type"]
        if qa["type"] == "presence":
            key += ":" + qa["answer"]
        elif qa["type"] == "position" and dense:
            key += ":" + ("x" if qa["answer"] in ("left", "right") else "y")
        by_type.setdefault(key, []).append(qa)
    out = list(by_type.pop("describe"))
    if not dense and "presence:yes" in by_type and "presence:no" in by_type:
        by_type.pop("presence:yes" if rng.random() < 0.5 else "presence:no")
    keys = sorted(by_type)
    for j in rng.choice(len(keys), size=min(extra, len(keys)), replace=False):
        qas = by_type[keys[j]]
        out.append(qas[int(rng.integers(len(qas)))])
    return out


def patch_logits(model, hidden, layout, aux_layer: int) -> torch.Tensor:
    """The patch read-out: lm_head(norm(h)) at every <vpatch> of the layer output `aux_layer`."""
    return model.lm_head(model.model.norm(hidden[aux_layer][:, 1: 1 + layout.nh * layout.nw]))


def aux_patch_loss(model, hidden, layout, targets: PatchTargets, scenes, idx, aux_layer: int, device):
    """Soft cross-entropy of the patch read-out against patch_targets' words."""
    logp = F.log_softmax(patch_logits(model, hidden, layout, aux_layer).float(), dim=-1)
    t = torch.from_numpy(targets.batch([scenes[i] for i in idx])).to(device)
    return -(t * logp).sum(-1).mean()


@torch.no_grad()
def patch_accuracy(model, layout, targets: PatchTargets, images, scenes, p, aux_layer: int, device, batch=256):
    """How well the patch read-out names the object under each patch: (shape, colour) accuracy over
    object patches (argmax among the shape / colour words) and background accuracy."""
    model.eval()
    sid = torch.tensor(list(targets.shape_id.values()))
    cid = torch.tensor(list(targets.colour_id.values()))
    ok_s = ok_c = n_obj = ok_bg = n_bg = 0
    for s in range(0, len(scenes), batch):
        idx = np.arange(s, min(s + batch, len(scenes)))
        _, hidden = layout.run_prefix(model, images[idx], p, return_hidden=True)
        logits = patch_logits(model, hidden, layout, aux_layer).cpu()
        t = torch.from_numpy(targets.batch([scenes[i] for i in idx]))
        bg = t[..., targets.zero] == 1
        ok_bg += int((logits.argmax(-1)[bg] == targets.zero).sum())
        n_bg += int(bg.sum())
        obj = ~bg
        ok_s += int((logits[..., sid].argmax(-1) == t[..., sid].argmax(-1))[obj].sum())
        ok_c += int((logits[..., cid].argmax(-1) == t[..., cid].argmax(-1))[obj].sum())
        n_obj += int(obj.sum())
    model.train()
    return ok_s / max(1, n_obj), ok_c / max(1, n_obj), ok_bg / max(1, n_bg)


def scene_rows(scene: dict, extra: int, rng: np.random.Generator, dense: bool, multiturn: float) -> list[list[tuple[str, str]]]:
    """The text rows of one scene and step, each a conversation of (question, answer) turns.
    Without multi-turn: one single-turn row per training question. With probability `multiturn`
    the scene's questions are shuffled and the first K (2..all) become one conversation (answers in
    the history as tsvlm writes them), the rest stay single-turn rows: every question is trained
    once either way, so a step costs about the same tokens."""
    qas = [(qa["question"], qa["answer"]) for qa in training_questions(scene, extra, rng, dense)]
    if multiturn <= 0 or len(qas) < 2 or rng.random() >= multiturn:
        return [[qa] for qa in qas]
    qas = [qas[j] for j in rng.permutation(len(qas))]
    k = int(rng.integers(2, len(qas) + 1))
    return [qas[:k]] + [[qa] for qa in qas[k:]]


BUCKETS = (SHORT_ROW, 32, 64, 128)  # row-length bounds of the padding buckets


def train_batch(model, layout, codec, images, scenes, idx, p, device, extra, rng, aux=None, text=True, dense=False, multiturn=0.0):
    """Mean answer-token cross-entropy (and, with aux=(targets, layer), the patch loss).
    text=False: the patch loss alone (image-only steps; the text loss is returned as None)."""
    if aux is not None:
        past, hidden = layout.run_prefix(model, images[idx], p, return_hidden=True)
        aux_loss = aux_patch_loss(model, hidden, layout, aux[0], scenes, idx, aux[1], device)
    else:
        past, aux_loss = layout.run_prefix(model, images[idx], p), None
    if not text:
        return None, aux_loss
    rows, seqs, spans = [], [], []
    for b, i in enumerate(idx):
        for turns in scene_rows(scenes[i], extra, rng, dense, multiturn):
            ids, sp = codec.conversation(turns)
            rows.append(b)
            seqs.append([BOS] + ids)
            spans.append([(st + 1, en + 1) for st, en in sp])  # +1: BOS
    # Length buckets (short answers / captions / conversations) so short rows are not padded to the longest.
    order = sorted(range(len(seqs)), key=lambda r: len(seqs[r]))
    buckets: list[list[int]] = [[] for _ in range(len(BUCKETS) + 1)]
    for r in order:
        buckets[next((j for j, lim in enumerate(BUCKETS) if len(seqs[r]) <= lim), len(BUCKETS))].append(r)
    total, n_tok = 0.0, 0
    for bucket in buckets:
        if not bucket:
            continue
        T = max(len(seqs[r]) for r in bucket)
        ids = torch.full((len(bucket), T), EOS, dtype=torch.long)
        labels = torch.full((len(bucket), T), -100, dtype=torch.long)
        for k, r in enumerate(bucket):
            s = seqs[r]
            ids[k, : len(s)] = torch.tensor(s)
            for st, en in spans[r]:
                labels[k, st - 1: en - 1] = torch.tensor(s[st:en])  # logits at t predict token t+1
        ids, labels = ids.to(device), labels.to(device)
        pos = layout.positions(layout.P + T)[:, :, layout.P:]
        rows_t = torch.tensor([rows[r] for r in bucket], device=device)
        logits, _ = model(ids, pos, layout.text_mask(T), past=expand_past(past, rows_t))
        total = total + F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), reduction="sum")
        n_tok += int((labels != -100).sum())
    return total / n_tok, aux_loss


@torch.no_grad()
def greedy_answers(model, layout, codec, images, prompts: list[tuple[int, list[int]]], p, device, max_new=32, batch=256) -> list[str]:
    """Greedy answers (special tokens skipped, trimmed) to (scene index, prompt ids after BOS) items.
    Rows of different lengths are left-padded, the pads masked out and every real token given its
    unpadded position, so each row computes exactly tsvlm's sequence."""
    order = sorted(range(len(prompts)), key=lambda j: len(prompts[j][1]))
    results: list[str] = [""] * len(prompts)
    base = int(layout.positions(layout.P + 1)[0, 0, layout.P])  # position of the first text token (BOS)
    for s in range(0, len(order), batch):
        chunk = order[s: s + batch]
        B = len(chunk)
        idx = np.array([prompts[j][0] for j in chunk])
        past = layout.run_prefix(model, images[idx], p)
        lens = torch.tensor([1 + len(prompts[j][1]) for j in chunk], device=device)
        T = int(lens.max())
        pad = T - lens  # [B]
        ids = torch.full((B, T), EOS, dtype=torch.long, device=device)
        for k, j in enumerate(chunk):
            ids[k, int(pad[k]):] = torch.tensor([BOS] + prompts[j][1], device=device)
        col = torch.arange(T, device=device)
        real = col[None] >= pad[:, None]  # [B, T]
        pos = (base + (col[None] - pad[:, None]).clamp(min=0))[None].expand(3, B, T)
        mask = layout.text_mask(T).expand(B, -1, -1, -1).clone()
        mask[:, 0, :, layout.P:].masked_fill_(~real[:, None, :], float("-inf"))
        logits, past = model(ids, pos, mask, past=past)
        nxt = base + lens  # [B] position of the next token
        keep = torch.cat([torch.ones(B, layout.P, dtype=torch.bool, device=device), real], 1)  # [B, S] visible columns
        out = []
        done = torch.zeros(B, dtype=torch.bool, device=device)
        for _ in range(max_new):
            tok = logits[:, -1].argmax(-1)
            out.append(tok)
            done |= tok == EOS
            if bool(done.all()):
                break
            keep = torch.cat([keep, torch.ones(B, 1, dtype=torch.bool, device=device)], 1)
            m = torch.zeros(B, 1, 1, keep.shape[1], device=device).masked_fill_(~keep[:, None, None, :], float("-inf"))
            logits, past = model(tok[:, None], nxt[None, :, None].expand(3, B, 1), m, past=past)
            nxt = nxt + 1
        for j, g in zip(chunk, torch.stack(out, 1).tolist()):
            results[j] = codec.decode(g[: g.index(EOS)] if EOS in g else g)
    return results


def type_accuracy(scored: list[tuple[str, bool]]) -> tuple[dict, float]:
    per_type = {t: [0, 0] for t in QUESTION_TYPES}
    for t, ok in scored:
        per_type[t][0] += ok
        per_type[t][1] += 1
    acc = {t: {"correct": c, "n": n, "accuracy": c / n if n else None} for t, (c, n) in per_type.items()}
    return acc, sum(ok for _, ok in scored) / max(1, len(scored))


@torch.no_grad()
def evaluate(model, layout, codec, images, scenes, p, device, keep_first=0):
    """Turn 1: every question of a scene asked alone (greedy, exact match after skipping special
    tokens and trimming). Follow-up: per scene one conversation asking its questions in
    scene["order"] (scenes.mjs conversationOrder, as eval/builtin.mjs does), the history holding the
    model's OWN greedy answers as tsvlm's REPL keeps them; turns 2+ scored.
    Returns (turn-1 per type, turn-1 overall, turn-1 predictions, follow-up dict)."""
    model.eval()
    items = [(i, qa) for i in range(len(scenes)) for qa in scenes[i]["qa"]]
    got1 = greedy_answers(model, layout, codec, images, [(i, codec.prompt([(qa["question"], None)])) for i, qa in items], p, device)
    acc, overall = type_accuracy([(qa["type"], g == qa["answer"]) for (_, qa), g in zip(items, got1)])
    preds = [{"seed": scenes[i]["seed"], "type": qa["type"], "question": qa["question"], "answer": qa["answer"], "pytorch": g}
             for (i, qa), g in zip(items, got1) if i < keep_first]
    first = {(i, qa["question"]): g for (i, qa), g in zip(items, got1)}  # turn 1 of a conversation = the question alone
    convs = [[scenes[i]["qa"][j] for j in scenes[i]["order"]] for i in range(len(scenes))]
    history: list[list[tuple[str, str]]] = [[(c[0]["question"], first[(i, c[0]["question"])])] for i, c in enumerate(convs)]
    scored, fpreds = [], []
    for t in range(1, max(len(c) for c in convs)):
        live = [i for i, c in enumerate(convs) if len(c) > t]
        got = greedy_answers(model, layout, codec, images, [(i, codec.prompt(history[i] + [(convs[i][t]["question"], None)])) for i in live], p, device)
        for i, g in zip(live, got):
            qa = convs[i][t]
            scored.append((qa["type"], g == qa["answer"]))
            if i < keep_first:
                fpreds.append({"seed": scenes[i]["seed"], "turn": t + 1, "type": qa["type"], "question": qa["question"],
                               "answer": qa["answer"], "pytorch": g, "history": [list(h) for h in history[i]]})
            history[i].append((qa["question"], g))
    facc, foverall = type_accuracy(scored)
    model.train()
    followup = {"per_type": facc, "overall": foverall, "questions": len(scored), "predictions": fpreds}
    return acc, overall, preds, followup


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, help="model folder holding the tokenizer files")
    ap.add_argument("--data-dir", default="/tmp/tsvlm-scenes")
    ap.add_argument("--train-scenes", type=int, default=200_000)
    ap.add_argument("--eval-scenes", type=int, default=2000)
    ap.add_argument("--steps", type=int, default=2800)
    ap.add_argument("--scenes-per-step", type=int, default=64)
    ap.add_argument("--extra-questions", type=int, default=5,
                    help="questions per scene and step besides its caption, of distinct random types (-1: the evaluation's one per type)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--ffn", type=int, default=512)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=8)
    # SAIL's M-RoPE gives the W axis the slower half of the frequencies (sail_model.mrope_cos_sin):
    # with theta 10000 a 64x64 image's 8 columns differ by < 0.01 rad there, so the model cannot
    # tell left from right (measured: left/right 38%, top/bottom 96%). A small theta keeps W visible.
    ap.add_argument("--rope-theta", type=float, default=4.0)
    ap.add_argument("--patch", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--threads", type=int, default=0,
                    help="torch CPU threads (0: torch's default). On a shared, busy machine 1 thread was 3.5x faster than 2")
    ap.add_argument("--eval-every", type=int, default=1000)
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--aux-weight", type=float, default=1.0,
                    help="weight of the per-patch word loss (training/patch_targets.py); 0 disables it")
    ap.add_argument("--aux-layer", type=int, default=-2,
                    help="hidden state the patch loss reads (index into the layer outputs; -2 = input of the last layer, "
                         "whose attention the answer tokens read)")
    ap.add_argument("--patch-sides", choices=["centre", "all"], default="centre",
                    help="which patches of an object name its sides (left/right, top/bottom) in the patch loss")
    ap.add_argument("--patch-only-steps", type=int, default=0,
                    help="first steps train the image prefix with the patch loss alone (no text rows: ~2x the images per second)")
    ap.add_argument("--dense-questions", action="store_true",
                    help="per scene both a present and an absent combination (presence) and both a left/right and a top/bottom "
                         "question (position) when the scene has them, as separate types for --extra-questions")
    ap.add_argument("--multiturn", type=float, default=0.0,
                    help="chance per scene and step that its questions (shuffled, 2..all) form one multi-turn conversation "
                         "(answers kept in the history as tsvlm formats them) instead of single-turn rows")
    ap.add_argument("--text-lr", type=float, default=None, help="peak lr of the text stage (default --lr)")
    ap.add_argument("--text-warmup", type=int, default=50, help="warmup steps of the text stage after --patch-only-steps")
    ap.add_argument("--text-scenes-per-step", type=int, default=None, help="scenes per text-stage step (default --scenes-per-step)")
    ap.add_argument("--init", default=None, help="continue from this model.safetensors (same config), e.g. a time-limited earlier run")
    ap.add_argument("--max-seconds", type=float, default=float("inf"), help="safety stop: end training early (recorded in metrics.json)")
    args = ap.parse_args()
    # (defaults kept as when the shipped checkpoint's recorded commands ran, so they reproduce it)
    args.text_lr = args.lr if args.text_lr is None else args.text_lr
    args.text_scenes_per_step = args.scenes_per_step if args.text_scenes_per_step is None else args.text_scenes_per_step

    torch.manual_seed(args.seed)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    # Subnormal floats (tiny attention weights and Adam moments late in training) run ~100x slower
    # on x86 CPUs: measured steps going from 1.05 s to 2 s over a run. Flushing them to zero changes
    # nothing measurable in the model.
    torch.set_flush_denormal(True)
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 training: the checkpoint is fp32
    device = torch.device(args.device)
    out = Path(args.out)
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    codec = TextCodec(tok)
    cfg_json = build_config(args, tok.get_vocab_size(), tok)
    cfg = SailConfig.from_dict(cfg_json)
    model = SailForCausalLM(cfg)
    init_weights(model, args.seed)
    init_train = None  # the earlier run's own record, when --init points into a trained model folder
    if args.init and (Path(args.init).parent / "metrics.json").exists():
        init_train = json.loads((Path(args.init).parent / "metrics.json").read_text())["train"]
    if args.init:
        from safetensors.torch import load_file
        model.load_state_dict(load_file(args.init), strict=True)
        print(f"continuing from {args.init}", flush=True)
    model.to(device)
    print(f"SAIL model: {count_params(model):,} params ({count_params(model) * 4 / 2**20:.2f} MiB fp32)", flush=True)

    t0 = time.time()
    data = Path(args.data_dir)
    tr_img, tr_sc = make_dataset(data / f"train-{args.train_scenes}", 0, args.train_scenes, jobs=args.jobs)
    ev_img, ev_sc = make_dataset(data / f"eval-{args.eval_scenes}", EVAL_SEED_BASE, args.eval_scenes, jobs=args.jobs)
    if any("order" not in sc for sc in ev_sc):  # cached by an older make_dataset.mjs: no conversation order yet
        for suffix in (".u8", ".json"):
            (data / f"eval-{args.eval_scenes}{suffix}").unlink()
        ev_img, ev_sc = make_dataset(data / f"eval-{args.eval_scenes}", EVAL_SEED_BASE, args.eval_scenes, jobs=args.jobs)
    print(f"data: {len(tr_sc)} train scenes, {len(ev_sc)} held-out scenes ({time.time() - t0:.0f}s)", flush=True)

    layout = Layout(cfg_json, device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98), eps=1e-8)
    K = args.patch_only_steps

    def lr_scale(s: int) -> float:
        # One warmup + cosine per stage: the image-only stage over its K steps at --lr, then the text
        # stage over the rest at --text-lr (its answers start from scratch on a trained image prefix).
        if s < K:
            return min(1.0, (s + 1) / args.warmup) * 0.5 * (1 + math.cos(math.pi * s / K))
        s, n = s - K, args.steps - K
        warm = args.warmup if K == 0 else args.text_warmup
        return (args.text_lr / args.lr) * min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / n)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_scale)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(tr_sc))
    cursor = 0
    t0 = time.time()
    ema = aux_ema = None
    targets = PatchTargets(tok, SIZE, cfg.vision_patch_size, cfg.vocab_size, sides_everywhere=args.patch_sides == "all")
    for step in range(1, args.steps + 1):
        per_step = args.scenes_per_step if step <= K else args.text_scenes_per_step
        if cursor + per_step > len(order):
            order, cursor = rng.permutation(len(tr_sc)), 0
        idx = np.sort(order[cursor: cursor + per_step])
        cursor += per_step
        text_on = step > K
        text_loss, aux_loss = train_batch(model, layout, codec, tr_img, tr_sc, idx, cfg.vision_patch_size, device,
                                          args.extra_questions, rng, aux=(targets, args.aux_layer) if args.aux_weight > 0 or not text_on else None,
                                          text=text_on, dense=args.dense_questions, multiturn=args.multiturn)
        if text_loss is None:
            loss = aux_loss
        else:
            loss = text_loss + args.aux_weight * aux_loss if aux_loss is not None else text_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if text_loss is not None:
            ema = text_loss.item() if ema is None else 0.98 * ema + 0.02 * text_loss.item()
        if aux_loss is not None:
            aux_ema = aux_loss.item() if aux_ema is None else 0.98 * aux_ema + 0.02 * aux_loss.item()
        steps_done = step
        if time.time() - t0 > args.max_seconds:
            print(f"stopping early at step {step}: --max-seconds {args.max_seconds} reached", flush=True)
            break
        if step % args.log_every == 0:
            aux_txt = f" patch-loss {aux_ema:.4f}" if aux_ema is not None else ""
            print(f"step {step} loss {ema if ema is not None else float('nan'):.4f}{aux_txt} lr {sched.get_last_lr()[0]:.2e} {time.time() - t0:.0f}s", flush=True)
        if step % args.eval_every == 0 and step < args.steps:
            ps, pc, pb = patch_accuracy(model, layout, targets, ev_img[:200], ev_sc[:200], cfg.vision_patch_size, args.aux_layer, device)
            print(f"  patch read-out (200 scenes): shape {ps:.3f} colour {pc:.3f} background {pb:.3f}", flush=True)
            if not text_on:
                continue
            acc, overall, _, fu = evaluate(model, layout, codec, ev_img[:300], ev_sc[:300], cfg.vision_patch_size, device)
            print(f"  eval(300 scenes) turn-1 {overall:.4f} " + " ".join(f"{t}={a['accuracy']:.3f}" for t, a in acc.items()), flush=True)
            print(f"  eval(300 scenes) follow-up {fu['overall']:.4f} " + " ".join(f"{t}={a['accuracy']:.3f}" for t, a in fu["per_type"].items()), flush=True)
    train_s = time.time() - t0

    model.eval()
    readout = patch_accuracy(model, layout, targets, ev_img[:200], ev_sc[:200], cfg.vision_patch_size, args.aux_layer, device)
    print(f"patch read-out (200 held-out scenes): shape {readout[0]:.4f} colour {readout[1]:.4f} background {readout[2]:.4f}")
    acc, overall, preds, fu = evaluate(model, layout, codec, ev_img, ev_sc, cfg.vision_patch_size, device, keep_first=50)
    print(f"FINAL held-out ({len(ev_sc)} scenes, seeds {EVAL_SEED_BASE}..) turn-1 {overall:.4f} follow-up {fu['overall']:.4f}")
    for t, a in acc.items():
        f = fu["per_type"][t]
        print(f"  {t:9s} turn-1 {a['correct']}/{a['n']} = {a['accuracy']:.4f}   follow-up {f['correct']}/{f['n']} = {f['accuracy'] or 0:.4f}")

    state = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(cfg_json, indent=2) + "\n")
    (out / "generation_config.json").write_text(json.dumps({"bos_token_id": BOS, "eos_token_id": EOS, "max_new_tokens": 64, "do_sample": False}, indent=2) + "\n")
    # The training resolution (64x64 scenes): tsvlm downsizes larger images to this many patches.
    (out / "preprocessor_config.json").write_text(json.dumps({"image_processor_type": "SailImageProcessor", "patch_size": args.patch, "max_patches": (64 // args.patch) ** 2}, indent=2) + "\n")
    metrics = {
        "model": "sail-scenes",
        "eval": {"seed_start": EVAL_SEED_BASE, "scenes": len(ev_sc), "questions": sum(a["n"] for a in acc.values()),
                 "decoding": "greedy, special tokens skipped, trimmed, exact match", "per_type": acc, "overall": overall,
                 "followup": {"what": "one conversation per scene asking its questions in scenes.mjs conversationOrder, "
                                      "the model's own greedy answers kept in the history; turns 2+ scored",
                              "questions": fu["questions"], "per_type": fu["per_type"], "overall": fu["overall"]}},
        "train": {"command": "python training/train_sail.py " + " ".join(sys.argv[1:]), "scenes": len(tr_sc), "seed_range": [0, len(tr_sc)], "steps": args.steps, "steps_done": steps_done, "scenes_per_step": args.scenes_per_step, "extra_questions": args.extra_questions,
                  "dense_questions": args.dense_questions, "multiturn": args.multiturn, "init": args.init, "init_train": init_train,
                  "patch_only_steps": args.patch_only_steps, "text_lr": args.text_lr, "text_warmup": args.text_warmup,
                  "text_scenes_per_step": args.text_scenes_per_step,
                  "patch_loss": {"weight": args.aux_weight, "layer": args.aux_layer, "sides": args.patch_sides, "final_ema": aux_ema,
                                 "readout_200_eval_scenes": dict(zip(("shape", "colour", "background"), readout))},
                  "heads": args.heads, "kv_heads": args.kv_heads, "rope_theta": args.rope_theta,
                  "lr": args.lr, "warmup": args.warmup, "weight_decay": args.weight_decay, "seed": args.seed,
                  "device": str(device), "torch": torch.__version__, "seconds": round(train_s), "final_loss_ema": ema},
        "params": count_params(model),
        "pytorch_predictions_first_50_eval_scenes": preds,
        "pytorch_followup_predictions_first_50_eval_scenes": fu["predictions"],
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    print(f"wrote {out}/model.safetensors config.json generation_config.json metrics.json")


if __name__ == "__main__":
    main()
