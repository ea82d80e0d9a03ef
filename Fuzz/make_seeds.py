#!/usr/bin/env python3
"""Writes the small GGUF seeds of Fuzz/corpus/gguf/ (run by hand; the outputs are committed).

tiny-llama.gguf: a complete, valid llama model small enough for the fuzz target to build and run
(D=32, one layer, 261-token byte-level BPE vocabulary), its tensors spread over every type
biasprobe dequantises, plus one Q4_K and one Q6_K tensor of a single block each.
The other seeds are variants that reach further branches: GGUF v2, a metadata array of arrays,
unknown tensor types, a qwen2 model with QKV biases.
"""
import os
import struct
import sys

import numpy as np

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "gguf")
rng = np.random.default_rng(7)


def s(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b


def value(v):
    kind, x = v
    if kind == "u32": return struct.pack("<I", 4) + struct.pack("<I", x)
    if kind == "i32": return struct.pack("<I", 5) + struct.pack("<i", x)
    if kind == "f32": return struct.pack("<I", 6) + struct.pack("<f", x)
    if kind == "bool": return struct.pack("<I", 7) + bytes([x])
    if kind == "str": return struct.pack("<I", 8) + s(x)
    if kind == "u64": return struct.pack("<I", 10) + struct.pack("<Q", x)
    if kind == "strs": return struct.pack("<I", 9) + struct.pack("<IQ", 8, len(x)) + b"".join(s(e) for e in x)
    if kind == "i32s": return struct.pack("<I", 9) + struct.pack("<IQ", 5, len(x)) + b"".join(struct.pack("<i", e) for e in x)
    if kind == "nested": return struct.pack("<I", 9) + struct.pack("<IQ", 9, len(x)) + b"".join(value(e)[4:] for e in x)
    raise ValueError(kind)


def f16(a): return np.asarray(a, dtype=np.float16).tobytes()


def quant(kind, n):
    """Raw bytes of n values in a GGML block format; random but well-formed scales."""
    if kind == 0: return rng.standard_normal(n).astype(np.float32).tobytes()       # F32
    if kind == 1: return f16(rng.standard_normal(n) * 0.1)                           # F16
    if kind == 30: return (rng.standard_normal(n).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16).tobytes()  # BF16
    out = b""
    if kind == 2:    # Q4_0
        for _ in range(n // 32): out += f16([0.01]) + rng.integers(0, 256, 16, dtype=np.uint8).tobytes()
    elif kind == 3:  # Q4_1
        for _ in range(n // 32): out += f16([0.01, -0.05]) + rng.integers(0, 256, 16, dtype=np.uint8).tobytes()
    elif kind == 8:  # Q8_0
        for _ in range(n // 32): out += f16([0.002]) + rng.integers(0, 256, 32, dtype=np.uint8).tobytes()
    elif kind == 12: # Q4_K
        for _ in range(n // 256): out += f16([0.01, 0.001]) + rng.integers(0, 256, 12 + 128, dtype=np.uint8).tobytes()
    elif kind == 14: # Q6_K
        for _ in range(n // 256): out += rng.integers(0, 256, 192, dtype=np.uint8).tobytes() + rng.integers(-8, 8, 16, dtype=np.int8).tobytes() + f16([0.001])
    else:            # opaque bytes for types biasprobe only sizes
        out = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    return out


def byte_level_tokens():
    # GPT-2's byte to unicode table.
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs))]


def gguf(metadata, tensors, version=3, alignment=32):
    head = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(metadata))
    head += b"".join(s(k) + value(v) for k, v in metadata)
    table, data = b"", b""
    for name, dims, kind, raw in tensors:
        table += s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        table += struct.pack("<IQ", kind, len(data))
        data += raw + b"\0" * ((-len(raw)) % alignment)
    blob = head + table
    return blob + b"\0" * ((-len(blob)) % alignment) + data


def model(arch="llama", bias=False, D=32, H=2, Hkv=1, F=64, types=(2, 3, 8, 1, 30, 0)):
    toks = byte_level_tokens()
    merges = ["Ġ t", "h e", "Ġt he", "l l", "e ll"]
    vocab = toks + ["Ġt", "he", "Ġthe", "ll", "ell", "<|im_start|>", "<|im_end|>"]
    ttypes = [1] * (len(vocab) - 2) + [3, 3]
    V, d = len(vocab), D // H
    md = [("general.architecture", ("str", arch)), ("general.name", ("str", "tiny")),
          (f"{arch}.block_count", ("u32", 1)), (f"{arch}.embedding_length", ("u32", D)),
          (f"{arch}.attention.head_count", ("u32", H)), (f"{arch}.attention.head_count_kv", ("u32", Hkv)),
          (f"{arch}.feed_forward_length", ("u32", F)), (f"{arch}.context_length", ("u32", 256)),
          (f"{arch}.rope.dimension_count", ("u32", d)), (f"{arch}.attention.layer_norm_rms_epsilon", ("f32", 1e-5)),
          (f"{arch}.rope.freq_base", ("f32", 10000.0)),
          ("tokenizer.ggml.model", ("str", "gpt2")), ("tokenizer.ggml.pre", ("str", "smollm")),
          ("tokenizer.ggml.tokens", ("strs", vocab)), ("tokenizer.ggml.token_type", ("i32s", ttypes)),
          ("tokenizer.ggml.merges", ("strs", merges)), ("tokenizer.ggml.bos_token_id", ("u32", V - 2)),
          ("tokenizer.ggml.eos_token_id", ("u32", V - 1)), ("general.alignment", ("u32", 32))]
    shapes = [("token_embd.weight", [D, V]), ("blk.0.attn_norm.weight", [D]), ("blk.0.attn_q.weight", [D, H * d]),
              ("blk.0.attn_k.weight", [D, Hkv * d]), ("blk.0.attn_v.weight", [D, Hkv * d]),
              ("blk.0.attn_output.weight", [H * d, D]), ("blk.0.ffn_norm.weight", [D]),
              ("blk.0.ffn_gate.weight", [D, F]), ("blk.0.ffn_up.weight", [D, F]), ("blk.0.ffn_down.weight", [F, D]),
              ("output_norm.weight", [D]), ("rope_freqs.weight", [d // 2])]
    if bias:
        shapes += [("blk.0.attn_q.bias", [H * d]), ("blk.0.attn_k.bias", [Hkv * d]), ("blk.0.attn_v.bias", [Hkv * d])]
    tensors = []
    for i, (name, dims) in enumerate(shapes):
        n = int(np.prod(dims))
        kind = 0 if len(dims) == 1 else types[i % len(types)]
        tensors.append((name, dims, kind, quant(kind, n)))
    tensors += [("extra.q4_k", [256], 12, quant(12, 256)), ("extra.q6_k", [256], 14, quant(14, 256))]
    return md, tensors


os.makedirs(OUT, exist_ok=True)
md, ts = model()
seeds = {
    "tiny-llama.gguf": gguf(md, ts),
    "tiny-llama-v2.gguf": gguf(md, ts, version=2),
    "tiny-qwen2-bias.gguf": gguf(*model("qwen2", bias=True, types=(1, 0, 30))),
    "nested-and-unknown.gguf": gguf(
        [("general.architecture", ("str", "llama")), ("test.nested", ("nested", [("i32s", [1, 2]), ("strs", ["a", "b"])])),
         ("test.u64", ("u64", 1 << 40)), ("test.bool", ("bool", 1)), ("general.alignment", ("u32", 64))],
        [("q5_0", [64], 6, quant(6, 64 * 22 // 32)), ("i8", [16], 24, quant(24, 16)), ("iq2", [256], 16, b"\0" * 66)],
        alignment=64),
}
for name, blob in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(blob)
    print(f"{name}: {len(blob)} bytes")
