import PCInference
/// The trace layout, in one place: every dataset's stable name (`stage/statistic`, which is
/// also the HDF5 path and the CLI selector), its axes and what it means. `docs/trace-format.md`
/// is generated from this table (`biasprobe inspect --schema`), and a test keeps them equal.
public enum TraceSchema {
    public static let format = "biasprobe-trace"
    public static let version = 2
    /// Version 1 kept the dimension scales in `/axes`, where netCDF readers (xarray) cannot see
    /// them from `/local` or `/global`; its datasets are the same, so it is still read.
    public static let oldestReadableVersion = 1

    public struct Entry: Sendable {
        public let name: String
        public let dims: [String]
        public let type: String
        public let meaning: String
    }

    public static let bands = KeyBand.chunkBandNames
    public static let policyBands = KeyBand.allCases.map(\.rawValue)

    public static let entries: [Entry] = [
        // input
        .init(name: "input/chunk_start", dims: ["chunk"], type: "int64", meaning: "first document token of the chunk's content (-1 for a character split)"),
        .init(name: "input/chunk_length", dims: ["chunk"], type: "int64", meaning: "tokens of the chunk as prefilled (prefix + content), c_i"),
        .init(name: "input/chunk_nll", dims: ["chunk"], type: "float64", meaning: "mean NLL (nats) of the question tokens given the chunk: the chunk's score"),
        .init(name: "input/chunk_kept", dims: ["chunk"], type: "uint8", meaning: "1 when the chunk was kept for the question"),
        .init(name: "input/combined_span", dims: ["kept", "edge"], type: "int64", meaning: "[start, end) key indices of each kept chunk in the combined cache"),
        .init(name: "input/question_ids", dims: ["question_token"], type: "int64", meaning: "token ids of the question as prefilled"),
        .init(name: "input/answer_ids", dims: ["answer_token"], type: "int64", meaning: "generated token ids"),
        .init(name: "input/document_ids", dims: ["document_token"], type: "int64", meaning: "token ids of the whole document as the model read it, before chunking (traces written before it existed lack these document datasets)"),
        .init(name: "input/token_char_start", dims: ["document_token"], type: "int64", meaning: "offset in the document text (Unicode scalars, i.e. Python string indices) where each document token starts"),
        .init(name: "input/chunk_token_span", dims: ["chunk", "edge"], type: "int64", meaning: "[start, end) document tokens of each chunk's content (token and sentence splits; -1 for the character split, whose chunks are re-tokenised)"),
        .init(name: "input/chunk_char_span", dims: ["chunk", "edge"], type: "int64", meaning: "[start, end) characters (Unicode scalars) of `document_text` each chunk holds"),
        .init(name: "input/chunk_token_char", dims: ["chunk_token"], type: "int64", meaning: "for every prefilled token of every chunk (chunk after chunk, input/chunk_length each), the character of `document_text` where it starts; -1 for BOS and prompt template. Key k of kept chunk c (input/combined_span) is that chunk's token k - start + (chunk_length - span length): `biasprobe inspect TRACE --key K` does this"),
        // local attention: each chunk's own prefill
        .init(name: "local/band_mass", dims: ["layer", "head", "chunk", "band"], type: "float32", meaning: "local attention: mean mass of the chunk's question rows on its sink/middle/recent bands"),
        .init(name: "local/band_mass_last", dims: ["layer", "head", "chunk", "band"], type: "float32", meaning: "as local/band_mass, last r question rows only"),
        .init(name: "local/query_mass", dims: ["layer", "head", "chunk"], type: "float32", meaning: "local attention: mean mass of the question rows on the question itself"),
        .init(name: "local/profile", dims: ["layer", "head", "chunk", "bin"], type: "float32", meaning: "local attention of the question rows over the chunk, in equal bins of relative position"),
        .init(name: "local/entropy", dims: ["layer", "head", "chunk"], type: "float32", meaning: "mean entropy (nats) of the question rows' attention in the chunk pass"),
        .init(name: "local/max_prob", dims: ["layer", "head", "chunk"], type: "float32", meaning: "mean largest probability of the question rows in the chunk pass"),
        .init(name: "local/prefill_band_mass", dims: ["layer", "head", "chunk", "band"], type: "float32", meaning: "within-chunk attention: mean over the chunk's own rows, bands of the full chunk"),
        .init(name: "local/prefill_band_mass_rel", dims: ["layer", "head", "chunk", "band"], type: "float32", meaning: "within-chunk attention, row i binning the i+1 keys it sees as a chunk of that length"),
        .init(name: "local/prefill_profile", dims: ["layer", "head", "chunk", "bin"], type: "float32", meaning: "within-chunk attention over relative position bins (mean over the chunk's rows)"),
        .init(name: "local/prefill_entropy", dims: ["layer", "head", "chunk"], type: "float32", meaning: "mean entropy (nats) of the chunk's own rows"),
        .init(name: "local/prefill_max_prob", dims: ["layer", "head", "chunk"], type: "float32", meaning: "mean largest probability of the chunk's own rows"),
        // global attention: the question over the combined cache
        .init(name: "global/band_mass", dims: ["layer", "head", "chunk", "band"], type: "float32", meaning: "global attention: mean mass of the question rows on each kept chunk's bands (NaN: chunk not kept)"),
        .init(name: "global/band_mass_last", dims: ["layer", "head", "chunk", "band"], type: "float32", meaning: "as global/band_mass, last r question rows only"),
        .init(name: "global/query_mass", dims: ["layer", "head"], type: "float32", meaning: "global attention: mean mass of the question rows on the question itself"),
        .init(name: "global/profile", dims: ["layer", "head", "chunk", "bin"], type: "float32", meaning: "global attention over each kept chunk in relative position bins (NaN: not kept)"),
        .init(name: "global/entropy", dims: ["layer", "head"], type: "float32", meaning: "mean entropy (nats) of the question rows over the combined cache"),
        .init(name: "global/max_prob", dims: ["layer", "head"], type: "float32", meaning: "mean largest probability of the question rows over the combined cache"),
        .init(name: "global/key_scores", dims: ["layer", "head", "key"], type: "float32", meaning: "summed attention of the last r question rows on every key (combined cache, then question): the paper's Eq. 6 score; count keys above lambda for outliers. Stored compactly: below `key_scores_floor` (1e-4) as 0, else with 11 significant bits"),
        // decoding
        .init(name: "decode/band_mass", dims: ["layer", "head", "chunk", "band"], type: "float32", meaning: "mean mass of the generated tokens on each kept chunk's bands"),
        .init(name: "decode/query_mass", dims: ["layer", "head"], type: "float32", meaning: "mean mass of the generated tokens on the question and answer"),
        // eviction
        .init(name: "eviction/calibration_query", dims: ["layer", "head"], type: "int64", meaning: "keys evicted by calibration during the question prefill"),
        .init(name: "eviction/calibration_chunk", dims: ["layer", "head"], type: "int64", meaning: "keys evicted by calibration during chunk prefills (summed over chunks)"),
        .init(name: "eviction/outliers_query", dims: ["layer", "head"], type: "int64", meaning: "keys above lambda found by query-stage calibration, before head equalisation"),
        .init(name: "eviction/outliers_chunk", dims: ["layer", "head"], type: "int64", meaning: "keys above lambda found by chunk-stage calibration (summed over chunks)"),
        .init(name: "eviction/compression", dims: ["layer", "head"], type: "int64", meaning: "context keys removed by SnapKV compression (summed over kept chunks)"),
        .init(name: "eviction/stage_compression", dims: ["layer", "head"], type: "int64", meaning: "keys removed by the one compression after the question prefill (--compression-stage question, official stage_eviction): gone for decoding"),
        .init(name: "eviction/decode", dims: ["layer", "head"], type: "int64", meaning: "keys removed during decoding (--kv-cache-dynamic, official kv_cache_dynamic; or --policy tova/h2o --decode-eviction): one per generated token after the first"),
        .init(name: "eviction/policy_keys", dims: ["chunk", "policy_band"], type: "int64", meaning: "--policy (docs/eviction-lab.md): keys in each band of the chunk pass before eviction (bands of width `--band-width` over the chunk's candidates, tiled; the question's keys); -1: no policy ran, or the chunk was not prefilled"),
        .init(name: "eviction/policy_kept", dims: ["layer", "head", "chunk", "policy_band"], type: "int64", meaning: "--policy: keys each head kept in each band of each chunk pass (the question's are never evicted there); 0 without a policy"),
        .init(name: "eviction/policy_mass", dims: ["layer", "head", "chunk", "policy_band"], type: "float32", meaning: "--policy: attention mass the chunk pass's question rows put, before eviction, on the keys each head kept in each band (mean over rows); NaN without a policy"),
        .init(name: "eviction/policy_band_mass", dims: ["layer", "head", "chunk", "policy_band"], type: "float32", meaning: "--policy: as eviction/policy_mass, on all the band's keys (a later chunk's BOS is in no band, so the four sum to at most 1); NaN without a policy"),
    ]

    public static func entry(_ name: String) -> Entry? { entries.first { $0.name == name } }

    /// Root attributes every trace carries.
    public static let rootAttributes: [(String, String)] = [
        ("format", "\"biasprobe-trace\""), ("format_version", "integer; readers refuse newer versions"),
        ("complete", "1: the run finished (files are renamed into place only when complete)"),
        ("biasprobe_version", "string"), ("command_line", "string"), ("created", "ISO 8601 time"),
        ("model_path", "string"), ("model_name", "string"), ("model_sha256", "hex string of the GGUF file"),
        ("architecture", "string"), ("tokenizer", "pre-tokenizer kind, or \"sentencepiece\""),
        ("layers", "int"), ("heads", "int"), ("kv_heads", "int"),
        ("layer_kind", "strings [layers]: \"local\" (sliding window) or \"global\""),
        ("attention_window", "ints [layers]: a local layer's window (pos_i − pos_j ≥ window is hidden), 0 on global layers"),
        ("chunks", "int"),
        ("sink_width", "S, keys in each chunk's sink band"), ("recent_width", "R, keys in each chunk's recent band"),
        ("bins", "B, relative-position bins"), ("last_rows", "r, question rows behind *_last and key_scores"),
        ("config_json", "the full pipeline configuration"), ("format_json", "the prompt templates"),
        ("question", "string"), ("answer", "string"), ("expected_answer", "string, empty when unknown"),
        ("needle_chunk", "chunk holding the needle, -1 when none"),
        ("passkey_depth", "depth of the pass key traced (`--depth`); -1 for `--input` or `--token-layout`"),
        ("passkey_seed", "seed of the pass key traced (`--passkey-seed`); -1 for `--input` or `--token-layout`"),
        ("query_position", "P, position of the first question token"),
        ("key_scores_floor", "global/key_scores below this are stored as 0"),
        ("timings_json", "seconds per stage"), ("peak_rss_bytes", "int"), ("document_tokens", "int"),
        ("prefix_tokens", "tokens before each chunk's content (BOS, prompt template); a kept chunk after the first loses its first in the combined cache"),
        ("document_text", "the document as the model read it (the document tokens' bytes in order: for a byte-level vocabulary exactly the input text); `input/token_char_start` indexes it"),
        ("input_path", "the `--input` file, empty for the essays or `--token-layout`"),
        ("input_tokens", "the `--input` file's own token count; -1 without `--input`"),
        ("input_repeats", "copies of the `--input` text the traced document holds: 1 = the file as it is, more = repeated with `--repeat`, less = cut by a shorter `--context`; -1 without `--input`"),
    ]

    /// Markdown documentation of the format.
    public static func markdown() -> String {
        var s = """
        # biasprobe trace format, version \(version)

        A trace is an HDF5 file written by `biasprobe trace`. It is created under a temporary name in
        the same folder and renamed into place only when the run has finished, so a file with the
        final name is always complete (SIGKILL or Ctrl-C leave at most a hidden `.NAME.tmp-PID`
        file, which the next run removes). Readers check `format` and refuse a `format_version`
        newer than their own.

        Every dataset's name is `stage/statistic`: the HDF5 path, and the selector that
        `biasprobe inspect --select` and the plots use. Axes are labelled (h5py: `dset.dims[i].label`)
        and every axis is a dimension scale in the root group, attached to each dataset that uses it,
        so netCDF-4 readers find it from any group: `xarray.open_dataset(path, engine="h5netcdf",
        group="global")` gives named dimensions with coordinates, and `xarray.open_datatree(path,
        engine="h5netcdf")` reads the whole file. Version 1 kept the scales under `/axes`; biasprobe
        still reads it (xarray does not).

        Stages: **local** is a chunk prefilled on its own with the question appended (positions from
        0): the question rows there see only that chunk. **global** is the question prefilled once
        more over the combined cache of the kept chunks, at positions after the longest kept chunk.
        **decode** is the generated answer. Bands of a chunk of length L: sink = its first
        min(S, L) keys, recent = its last R keys not in the sink, middle = the rest; masses are
        probabilities (sum to 1 per row with the question's own mass). Means are over the rows
        named. NaN means "not observed" (e.g. a chunk that was not kept, in global datasets).

        ## Root attributes

        | attribute | meaning |
        |---|---|

        """
        for (n, m) in rootAttributes { s += "| `\(n)` | \(m) |\n" }
        s += "\n## Datasets\n\n| name | axes | type | meaning |\n|---|---|---|---|\n"
        for e in entries { s += "| `\(e.name)` | \(e.dims.joined(separator: ", ")) | \(e.type) | \(e.meaning) |\n" }
        s += """

        ## Axes (dimension scales in the root group)

        | scale | values |
        |---|---|
        | `layer` | 0 ..< layers |
        | `head` | 0 ..< heads (query heads; head h reads key/value head h / (heads / kv_heads)) |
        | `chunk` | 0 ..< chunks, document order |
        | `band` | "sink", "middle", "recent" |
        | `policy_band` | "sink", "middle", "recent", "question" |
        | `bin` | 0 ..< bins, bin t covers relative positions [t/B, (t+1)/B) of the chunk |
        | `key` | key index in the combined cache (kept chunks in order, then the question) |
        | `kept` | the chunk id of each kept chunk, in combined-cache order |
        | `edge` | "start", "end" |
        | `question_token` | 0 ..< question tokens |
        | `answer_token` | 0 ..< answer tokens |
        | `document_token` | 0 ..< document tokens |
        | `chunk_token` | 0 ..< the sum of input/chunk_length |

        """
        return s
    }
}
