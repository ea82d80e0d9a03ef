#!/usr/bin/env python3
"""Tabulate run.sh's four evals into report.md (accuracy, needle chunk kept, wall time, peak RSS)."""
import json, re, subprocess, hashlib, os, sys
here = os.path.dirname(os.path.abspath(__file__))
cache = os.path.expanduser(os.environ.get("BIASPROBE_CACHE", "~/.cache/biasprobe"))
models = {"smollm2": "SmolLM2-135M-Instruct.Q4_1.gguf", "gemma3": "gemma-3-270m-q4_k_m.gguf"}
def sha(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""): h.update(b)
    return h.hexdigest()
def timing(name):
    t = open(os.path.join(here, name + ".time")).read()
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", t)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", t)
    cmd = re.search(r'Command being timed: "(.*)"', t)
    return (wall.group(1) if wall else "?", int(rss.group(1)) / 1e6 if rss else float("nan"), cmd.group(1) if cmd else "?")
commit = sys.argv[1] if len(sys.argv) > 1 else "?"
out = ["# Pass key at 128K under the official input side", "",
       "Produced by `run.sh` in this folder (then `report.py COMMIT`) with the biasprobe binary of commit "
       f"`{commit}` (the official character split and prompt layout, commit 758f5ca and later). "
       "5 depths x 4 seeds, 1 chunk kept, `--measure`. The host was a 2-core AMD EPYC (AVX2) shared with "
       "three other build and test jobs for the whole run, so wall times are upper bounds.", "",
       "| model | split | prompts | correct | needle chunk kept | mean answer NLL | wall | peak RSS | model sha256 |",
       "|---|---|---|---|---|---|---|---|---|"]
for model in ["smollm2", "gemma3"]:
    h = sha(os.path.join(cache, models[model]))[:16]
    for split in ["characters", "sentences"]:
        name = f"{model}-{split}"
        p = os.path.join(here, name + ".jsonl")
        if not os.path.exists(p): continue
        rows = [r for r in (json.loads(l) for l in open(p) if l.strip().startswith("{")) if "correct" in r]
        if not rows: continue
        ok = sum(r["correct"] for r in rows)
        kept = sum(1 for r in rows if r.get("needle_chunk") is not None and r["needle_chunk"] in r["kept_chunks"])
        nll = [r["answer_nll"] for r in rows if r.get("answer_nll") is not None]
        wall, rss, cmd = timing(name)
        label = "official (characters)" if split == "characters" else "sentences (biasprobe's)"
        out.append(f"| {model} | {label} | official | {ok}/{len(rows)} | {kept}/{len(rows)} | {sum(nll)/max(1,len(nll)):.3f} | {wall} | {rss:.2f} GB | {h}… |")
out += ["", "\"needle chunk kept\": the chunk holding the needle sentence's first character was the kept one.", "",
        "What this shows and does not: under the official split and prompts SmolLM2 misses 4 of 20, all at depth 0.75 "
        "and all with the needle's chunk kept (it answers \"123456\": the model, not the selection, fails there); at "
        "depth 0.25 the character cut splits the needle sentence and the kept chunk is the next one, which holds the key "
        "(4/4 correct). The sentence split (biasprobe's own, never the official code's) cuts only at sentence ends and gets "
        "20/20. Gemma 3 gets 20/20 with either split under the official prompts, against 11/20 at 128K under the chat "
        "layout with the sentence split (`../gemma3/report.md`): the chat markup, not the split, cost it those. SmolLM2 "
        "under the chat layout with the sentence split: 20/20 (`../report.md`). One filler text and one needle sentence "
        "throughout (5 depths x 4 key draws), so the 20 examples are not independent: read these as 5 configurations.", ""]
out += ["", "Commands (`/usr/bin/time -v`):", ""]
for model in ["smollm2", "gemma3"]:
    for split in ["characters", "sentences"]:
        name = f"{model}-{split}"
        if os.path.exists(os.path.join(here, name + ".time")): out.append(f"- `{timing(name)[2]}`")
open(os.path.join(here, "report.md"), "w").write("\n".join(out) + "\n")
print("\n".join(out))
