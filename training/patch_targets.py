"""Dense per-patch training targets for the SAIL VLM (an auxiliary loss used only in training).

A caption or an answer gives a handful of supervised tokens per image; shapes must be learnt from
raw 8x8 patches, and caption-level supervision alone left shape answers at chance after 32k
images on this CPU. So during training the image prefix is also read out at every <vpatch>:
the model's own final norm + lm_head, applied to the residual stream after layer `aux_layer`,
predicts words about the patch (the object covering it: its shape and colour; at the patch that
holds the object's centre also "one" and its side of the image; background patches "zero").
The checkpoint stays a plain SAIL model: at inference nothing reads logits at <vpatch>.

Geometry mirrors scenes.mjs's `inside()` (sampled at pixel centres): it only has to be close
enough to say which object a patch belongs to.
"""

from __future__ import annotations

import numpy as np

SHAPES = ["circle", "square", "triangle", "cross"]
COLOURS = ["red", "green", "blue", "yellow", "purple"]
MIN_COVER = 0.15  # fraction of a patch's pixels inside the object for the patch to be "on" it


def inside(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    if shape == "circle":
        return dx * dx + dy * dy <= r * r
    if shape == "square":
        h = r * 0.85
        return (np.abs(dx) <= h) & (np.abs(dy) <= h)
    if shape == "triangle":
        top, bottom = -r * 1.05, r * 0.85
        half = (dy - top) / (bottom - top) * r * 1.1
        return (dy >= top) & (dy <= bottom) & (np.abs(dx) <= half)
    if shape == "cross":
        t = r * 0.36
        ax, ay = np.abs(dx), np.abs(dy)
        return ((ax <= r) & (ay <= t)) | ((ay <= r) & (ax <= t))
    raise ValueError(f"unknown shape {shape!r}")


class PatchTargets:
    """Soft target distributions over the vocabulary for every patch of a scene."""

    def __init__(self, tok, size: int, patch: int, vocab_size: int, sides_everywhere: bool = False):
        def tid(word: str) -> int:
            i = tok.token_to_id("\u2581" + word)
            assert i is not None, f"tokenizer has no token for {word!r}"
            return i

        self.size, self.p, self.V = size, patch, vocab_size
        # sides_everywhere: every patch of an object also names the object's sides (not only its centre
        # patch), so a patch's content says where its object is; answers then need not decode the
        # position from rotary angles, which change with the question's place in a conversation.
        self.sides_everywhere = sides_everywhere
        self.nh = self.nw = size // patch
        self.shape_id = {s: tid(s) for s in SHAPES}
        self.colour_id = {c: tid(c) for c in COLOURS}
        self.one, self.zero = tid("one"), tid("zero")
        self.side = {k: tid(k) for k in ("left", "right", "top", "bottom")}
        c = np.arange(size) + 0.5
        self.xs, self.ys = np.meshgrid(c, c)

    def scene(self, objects: list[dict]) -> np.ndarray:
        """[n_patches, V] float32, each row sums to 1."""
        n = self.nh * self.nw
        out = np.zeros((n, self.V), dtype=np.float32)
        if objects:
            cover = np.stack([inside(o["shape"], self.xs - o["cx"], self.ys - o["cy"], o["r"]) for o in objects])
            cover = cover.reshape(len(objects), self.nh, self.p, self.nw, self.p).mean((2, 4)).reshape(len(objects), n)
            best = cover.argmax(0)
            on = cover.max(0) >= MIN_COVER
        else:
            on = np.zeros(n, dtype=bool)
        out[~on, self.zero] = 1.0
        for k in np.nonzero(on)[0]:
            o = objects[best[k]]
            ids = [self.shape_id[o["shape"]], self.colour_id[o["colour"]]] + (self.sides(o) if self.sides_everywhere else [])
            out[k, ids] = 1.0 / len(ids)
        for o in objects:
            i = min(int(o["cy"] // self.p), self.nh - 1)
            j = min(int(o["cx"] // self.p), self.nw - 1)
            k = i * self.nw + j
            ids = [self.shape_id[o["shape"]], self.colour_id[o["colour"]], self.one, *self.sides(o)]
            out[k] = 0.0
            out[k, ids] = 1.0 / len(ids)
        return out

    def sides(self, o: dict) -> list[int]:
        return [self.side["left" if o["cx"] < self.size / 2 else "right"], self.side["top" if o["cy"] < self.size / 2 else "bottom"]]

    def batch(self, scenes: list[dict]) -> np.ndarray:
        return np.stack([self.scene(s["objects"]) for s in scenes])
