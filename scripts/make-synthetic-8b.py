#!/usr/bin/env python3
"""Writes a synthetic GGUF with the shapes of Llama-3-8B (issue #15), for measuring load time,
memory and speed on a big model without downloading one. Never commit its output.

32 layers, 4,096 wide, 32 query / 8 key-value heads, FFN 14,336, vocabulary 128,256. Tensor types
follow llama.cpp's Q4_K_M mix: Q4_K everywhere except Q6_K for output.weight and, in the layers
llama.cpp gives more bits to, attn_v and ffn_down; norms are F32. Blocks are random but valid:
scales are chosen so the weights are centred with a standard deviation near 1/sqrt(fan-in)
and the activations stay finite through all 32 layers. The tokenizer is byte-level BPE (256
byte tokens, no merges) padded with filler tokens to the vocabulary size.

usage: make-synthetic-8b.py OUT.gguf [--layers N]   (about 4.9 GB for 32 layers)
"""
import struct
import sys

import numpy as np

L, D, H, HKV, F, V = 32, 4096, 32, 8, 14336, 128256
HD = D // H
Q4_K, Q6_K, F32 = 12, 14, 0
rng = np.random.default_rng(8)


def s(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b


def value(kind, x):
    if kind == "u32": return struct.pack("<II", 4, x)
    if kind == "f32": return struct.pack("<If", 6, x)
    if kind == "str": return struct.pack("<I", 8) + s(x)
    if kind == "strs": return struct.pack("<IIQ", 9, 8, len(x)) + b"".join(s(e) for e in x)
    if kind == "i32s": return struct.pack("<IIQ", 9, 5, len(x)) + np.asarray(x, dtype="<i4").tobytes()
    raise ValueError(kind)


def q4_k(rows, cols):
    """Q4_K blocks: weight = d*sc*q - dmin*m with sc == m per 32-group and dmin = 7.5 d: centred."""
    nb = rows * cols // 256
    blk = np.empty((nb, 144), dtype=np.uint8)
    v = rng.integers(16, 64, (nb, 8), dtype=np.uint8)           # 6-bit scale == min per group
    d = np.full(nb, 0.016 / (4.6 * 40) * np.sqrt(4096 / cols), dtype=np.float16)
    blk[:, 0:2] = d.view(np.uint8).reshape(nb, 2)
    blk[:, 2:4] = (d.astype(np.float32) * 7.5).astype(np.float16).view(np.uint8).reshape(nb, 2)
    hi = (v[:, 4:8] >> 4) << 6
    blk[:, 4:8] = v[:, 0:4] | hi
    blk[:, 8:12] = v[:, 0:4] | hi
    lo = v[:, 4:8] & 0xF
    blk[:, 12:16] = lo | (lo << 4)
    blk[:, 16:144] = rng.integers(0, 256, (nb, 128), dtype=np.uint8)
    return blk.tobytes()


def q6_k(rows, cols):
    """Q6_K blocks: weight = d*sc*(q - 32), q uniform in 0..63: centred."""
    nb = rows * cols // 256
    blk = np.empty((nb, 210), dtype=np.uint8)
    blk[:, 0:192] = rng.integers(0, 256, (nb, 192), dtype=np.uint8)
    blk[:, 192:208] = rng.integers(8, 25, (nb, 16), dtype=np.int8).view(np.uint8)
    d = np.full(nb, 0.016 / (18.5 * 16) * np.sqrt(4096 / cols), dtype=np.float16)
    blk[:, 208:210] = d.view(np.uint8).reshape(nb, 2)
    return blk.tobytes()


def byte_level_tokens():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs))]


def main():
    out = sys.argv[1]
    layers = int(sys.argv[sys.argv.index("--layers") + 1]) if "--layers" in sys.argv else L
    toks = byte_level_tokens()
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|im_start|>", "<|im_end|>"]
    vocab = toks + [f"<filler_{i}>" for i in range(V - len(toks) - len(specials))] + specials
    ttypes = [1] * (V - len(specials)) + [3] * len(specials)
    md = [("general.architecture", "str", "llama"), ("general.name", "str", "synthetic-llama3-8b-shape"),
          ("llama.block_count", "u32", layers), ("llama.embedding_length", "u32", D),
          ("llama.attention.head_count", "u32", H), ("llama.attention.head_count_kv", "u32", HKV),
          ("llama.feed_forward_length", "u32", F), ("llama.context_length", "u32", 131072),
          ("llama.rope.dimension_count", "u32", HD), ("llama.attention.layer_norm_rms_epsilon", "f32", 1e-5),
          ("llama.rope.freq_base", "f32", 500000.0), ("general.alignment", "u32", 32),
          ("tokenizer.ggml.model", "str", "gpt2"), ("tokenizer.ggml.pre", "str", "smollm"),
          ("tokenizer.ggml.tokens", "strs", vocab), ("tokenizer.ggml.token_type", "i32s", ttypes),
          ("tokenizer.ggml.merges", "strs", []), ("tokenizer.ggml.bos_token_id", "u32", V - 4),
          ("tokenizer.ggml.eos_token_id", "u32", V - 1)]

    def more_bits(l):   # llama.cpp's use_more_bits for Q4_K_M
        return l < layers // 8 or l >= 7 * layers // 8 or (l - layers // 8) % 3 == 2

    # (name, ggml dims [in, out], type, maker)
    plan = [("token_embd.weight", [D, V], Q4_K)]
    for l in range(layers):
        p = f"blk.{l}."
        plan += [(p + "attn_norm.weight", [D], F32), (p + "attn_q.weight", [D, D], Q4_K),
                 (p + "attn_k.weight", [D, HKV * HD], Q4_K),
                 (p + "attn_v.weight", [D, HKV * HD], Q6_K if more_bits(l) else Q4_K),
                 (p + "attn_output.weight", [D, D], Q4_K), (p + "ffn_norm.weight", [D], F32),
                 (p + "ffn_gate.weight", [D, F], Q4_K), (p + "ffn_up.weight", [D, F], Q4_K),
                 (p + "ffn_down.weight", [F, D], Q6_K if more_bits(l) else Q4_K)]
    plan += [("output_norm.weight", [D], F32), ("output.weight", [D, V], Q6_K)]

    def nbytes(dims, t):
        n = int(np.prod(dims))
        return n * 4 if t == F32 else n // 256 * (144 if t == Q4_K else 210)

    head = b"GGUF" + struct.pack("<IQQ", 3, len(plan), len(md))
    head += b"".join(s(k) + value(kind, x) for k, kind, x in md)
    offset = 0
    for name, dims, t in plan:
        head += s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", x) for x in dims)
        head += struct.pack("<IQ", t, offset)
        offset += (nbytes(dims, t) + 31) // 32 * 32
    with open(out, "wb") as f:
        f.write(head + b"\0" * ((-len(head)) % 32))
        for i, (name, dims, t) in enumerate(plan):
            if t == F32:
                raw = np.ones(dims[0], dtype="<f4").tobytes()
            else:
                raw = (q4_k if t == Q4_K else q6_k)(dims[1], dims[0])
            f.write(raw + b"\0" * ((-len(raw)) % 32))
            if i % 45 == 0:
                print(f"  {i}/{len(plan)} tensors", file=sys.stderr, flush=True)
    print(out)


if __name__ == "__main__":
    main()
