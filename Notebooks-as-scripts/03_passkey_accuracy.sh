#!/usr/bin/env bash
# Notebook 3: pass-key retrieval far past the trained context (8K on the default model; MODEL=gemma3: 32K).
#
# The claim to test: ParallelComp reads contexts far past the trained 8K window, while keeping
# only the last 8K tokens (truncate) or running plain causal attention over everything (full)
# fails there. SmolLM2-135M is small: it finds a pass key in a few hundred tokens but not in 8K
# (see the truncate row at 8k), so ParallelComp runs with 384-token chunks and keeps one chunk.
# Chunks end at sentence ends (--split-by sentences). With plain token cuts two things went wrong
# in development runs: a cut inside the needle left the pass key's first half in one chunk, and
# the question's first token scored much better after a chunk that happened to end a sentence,
# so a filler chunk ending in "again." beat the needle's chunk (8/20 correct at 128K).
# Five depths x 4 seeds for ParallelComp; for the baselines one seed on the default model (full
# attention at 16K already takes minutes per example) and 4 on Gemma 3 (BASELINE_SEEDS).
#   REPORT_ONLY=1 rebuilds the report from the results already in the folder.
source "$(dirname "$0")/_common.sh"
OUT=$(out_dir 03_passkey_accuracy)
mkdir -p "$OUT"
# Per model: the lengths, ParallelComp's chunk size, the trained context (what truncation keeps)
# and the lengths full attention runs at (a full pass costs n^2; past a few times the trained
# context it takes hours on two cores).
TRAINED="$(model_fact context_length)"
if [ "$MODEL" = smollm2 ]; then
    LENGTHS=${LENGTHS:-8k,32k,128k}; CHUNK=${CHUNK:-384}; FULL_LENGTHS=${FULL_LENGTHS:-8k,16k}; TRUNC_LENGTHS=${TRUNC_LENGTHS:-$LENGTHS}
    BASELINE_SEEDS=${BASELINE_SEEDS:-1}
else
    # Gemma 3 270M (trained on 32K): 512-token chunks, full attention at 32K only (at 128K its three
    # global layers alone would cost about 100 TFLOP per example). Truncation runs at 128K only:
    # at 32K it keeps (nearly) everything, which is the full-attention row.
    LENGTHS=${LENGTHS:-32k,128k}; CHUNK=${CHUNK:-512}; FULL_LENGTHS=${FULL_LENGTHS:-32k}; TRUNC_LENGTHS=${TRUNC_LENGTHS-128k}
    BASELINE_SEEDS=${BASELINE_SEEDS:-4}
fi
if [ "${REPORT_ONLY:-0}" != 1 ]; then
    # Step 1: ParallelComp at each length (minutes: the filler chunks repeat, so most chunk scores
    # are reused; `--no-reuse-scores` prefills every chunk).
    /usr/bin/time -v "$BP" eval passkey --lengths "$LENGTHS" --seeds 4 --chunk-tokens "$CHUNK" --split-by sentences \
        --measure --json > "$OUT/parallelcomp.jsonl" 2> "$OUT/parallelcomp.time"
    # Step 2: the last trained-context tokens only (at lengths past the trained context), and plain
    # causal attention (positions past the trained context beyond it).
    # (TRUNC_LENGTHS= or FULL_LENGTHS= empty skips a baseline.)
    [ -z "$TRUNC_LENGTHS" ] || "$BP" eval passkey --lengths "$TRUNC_LENGTHS" --method truncate --chunk-tokens "$TRAINED" --seeds "$BASELINE_SEEDS" --json > "$OUT/truncate.jsonl"
    # The last CHUNK tokens: the same amount of text ParallelComp's one kept chunk holds.
    "$BP" eval passkey --lengths "$LENGTHS" --seeds 4 --method truncate --chunk-tokens "$CHUNK" --json > "$OUT/truncate$CHUNK.jsonl"
    [ -z "$FULL_LENGTHS" ] || "$BP" eval passkey --lengths "$FULL_LENGTHS" --method full --seeds "$BASELINE_SEEDS" --json > "$OUT/full.jsonl"
fi

# Step 3: the table.
report "$OUT/report.md" python3 - "$OUT" "$CHUNK" "$TRAINED" "$BP" <<'PY'
import sys, json, re, os, subprocess
d, chunk, trained = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
info = json.loads(subprocess.run([sys.argv[4], "info", "--json"], capture_output=True, text=True, check=True).stdout)
T = f"{trained // 1024}K"
runs = [("parallelcomp", "parallelcomp.jsonl"), (f"truncate to {T}", "truncate.jsonl"),
        (f"truncate to {chunk}", f"truncate{chunk}.jsonl"), ("full", "full.jsonl")]
ex = []
for label, name in runs:
    p = f"{d}/{name}"
    if os.path.exists(p):
        ex += [dict(json.loads(l), label=label) for l in open(p)]
ex = [r for r in ex if "summary" not in r]
lengths = sorted({r["length"] for r in ex})
def k(n): return f"{n // 1024}k"
print(f"# Pass-key accuracy up to {k(max(lengths))} tokens ({info['name']}, trained context {T})\n")
print("| method | " + " | ".join(k(L) for L in lengths) + " |\n|---|" + "---|" * len(lengths))
for label, _ in runs:
    cells = []
    for L in lengths:
        e = [r for r in ex if r["label"] == label and r["length"] == L]
        cells.append(f"{sum(r['correct'] for r in e)}/{len(e)}" if e else "-")
    print(f"| {label} | " + " | ".join(cells) + " |")
print(f"\nParallelComp: {chunk}-token chunks cut at sentence ends, 1 kept; 5 depths x 4 seeds.")
def seeds(label):
    e = [r for r in ex if r["label"] == label]
    n, nd = len({r["seed"] for r in e}), len({r["depth"] for r in e})
    return f"{nd} depths x {n} seed{'s' if n != 1 else ''}" if e else "not run"
print(f"truncate to {T}: the last {trained:,} tokens, {seeds(f'truncate to {T}')}; truncate to {chunk}: the last {chunk} tokens (what one "
      f"kept chunk holds), {seeds(f'truncate to {chunk}')}; full: causal attention over everything, {seeds('full')}; "
      "- : not run (see the notebook for why).\n")
pc = [r for r in ex if r["label"] == "parallelcomp" and r["length"] == max(lengths)]
if pc:
    kept = sum(r.get("needle_chunk") in r["kept_chunks"] for r in pc)
    print(f"At {k(max(lengths))}: the needle's chunk was kept in {kept}/{len(pc)} examples; "
          f"mean attention mass of the question on the needle {sum(r['needle_mass'] for r in pc)/len(pc):.4f}, "
          f"mean answer NLL {sum(r['answer_nll'] for r in pc)/len(pc):.3f} nats per token.")
tr = [r for r in ex if r["label"] == f"truncate to {T}" and r["length"] == max(lengths)]
if tr:
    by = {}
    for r in tr: by.setdefault(r["depth"], []).append(r["correct"])
    found = [f"depth {dp:g} in {sum(v)}/{len(v)}" for dp, v in sorted(by.items()) if any(v)]
    print(f"Truncation to {T} at {k(max(lengths))} found the key at {', '.join(found) or 'no depth'}: only a needle inside "
          f"the last {trained:,} tokens survives the cut, which begins at depth {1 - trained / max(lengths):g} "
          f"(mean {sum(r['seconds'] for r in tr)/len(tr):.0f} s per example).")
t = f"{d}/parallelcomp.time"
if os.path.exists(t):
    s = open(t).read()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", s)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", s)
    if wall and rss: print(f"The ParallelComp run (all lengths) took {wall.group(1)} wall time, peak RSS {int(rss.group(1))/1e6:.2f} GB.")
wrong = [r for r in ex if not r["correct"]]
print("\n## Wrong answers of ParallelComp\n\n| length | depth | seed | answer | needle chunk kept | needle cut by the chunk end |\n|---|---|---|---|---|---|")
for r in wrong:
    if r["label"] != "parallelcomp": continue
    a = r["answer"].replace("|", "/").replace("\n", " ")[:50]
    print(f"| {k(r['length'])} | {r['depth']} | {r['seed']} | {a} | {r.get('needle_chunk') in r['kept_chunks']} | {r.get('needle_split')} |")
print("\nThe baselines' answers are in the .jsonl files; at 8K and beyond they describe what a pass key is.")
PY
