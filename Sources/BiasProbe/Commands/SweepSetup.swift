import ArgumentParser
import Foundation
import PCInference
import ProbeAnalysis

/// What every point of a sweep shares, fixed before any runs: the model, the grid's points and
/// their checked settings, and the examples (tasks x seeds x depths) each point runs.
struct SweepSetup {
    let axes: [SweepAxis]
    let model: LlamaModel, tok: Tokenizer, modelPath: String
    let format: (Tokenizer, RetrievalExample) -> PromptFormat
    let base: ParallelCompConfig
    let points: [SweepPoint]
    let configs: [ParallelCompConfig]
    let examples: [SweepExample]
    let built: [RetrievalExample]
    let taskList: [RetrievalTask]
    let lengthTokens: Int
    /// Each task's own answer budget, unless --max-tokens says otherwise.
    let taskAnswerBudget: Bool

    /// Loads the model and checks every point's settings, and what the pipeline itself refuses
    /// (chunk size against the prefix and question, batching with compression...) on one example
    /// of each task: found now, not hours into the sweep.
    init(_ cmd: Sweep, axes: [SweepAxis]) throws {
        self.axes = axes
        (model, tok, _) = try cmd.modelOptions.load()
        try cmd.pipeline.checkPromptLayout(tok, model: cmd.modelOptions.modelPath)
        modelPath = cmd.modelOptions.modelPath
        let pipeline = cmd.pipeline
        format = { tok, ex in pipeline.format(tok, example: ex) }
        var defaults = ParallelCompConfig()
        defaults.keepChunks = 1
        defaults.maxNewTokens = 12
        let layers = model.config.layerCount, modelConfig = model.config
        base = try pipeline.resolve(layerCount: layers, defaults: defaults, model: model.config)
        points = SweepPoint.grid(axes)
        let (points, base) = (points, base)
        configs = try points.map { p -> ParallelCompConfig in
            let c = try usage { try p.apply(to: base, layerCount: layers) }
            do { try ConfigCheck.validate(c); try c.evictionLab?.check(model: modelConfig) } catch { throw CLIError("--vary point \(p.label(axes: axes)): \(commandLineText(error))") }
            return c
        }
        for a in axes where a.parameter == .window || a.parameter == .kernel {
            guard configs.contains(where: { $0.compression != nil }) else {
                throw ValidationError("--vary \(a.parameter.rawValue) needs compression: give --capacity N or vary capacity")
            }
        }
        let taskList = cmd.tasks.values
        self.taskList = taskList
        var examples: [SweepExample] = []
        for t in taskList { for s in 0..<cmd.seeds { for d in cmd.depths.values { examples.append(SweepExample(task: t, depth: d, seed: s)) } } }
        self.examples = examples
        lengthTokens = cmd.length.tokens
        let builder = RetrievalTaskBuilder(tokenizer: tok)
        let essays = taskList.contains { $0.needsEssays } ? try DefaultCorpus.essays() : ""
        built = examples.map { [lengthTokens] e in
            e.task.example(builder, essays: essays, tokens: lengthTokens, depth: e.depth, seed: UInt64(e.seed))
        }
        taskAnswerBudget = pipeline.maxTokens == nil
        let firstOfEachTask = taskList.compactMap { t in examples.firstIndex { $0.task == t } }
        for (pi, c) in configs.enumerated() {
            for ei in firstOfEachTask {
                do { _ = try makePipeline(built[ei], c).prepare(context: built[ei].context, question: built[ei].question) }
                catch { throw CLIError("point \(points[pi].label(axes: axes)): \(commandLineText(error))") }
            }
        }
    }

    func makePipeline(_ ex: RetrievalExample, _ config: ParallelCompConfig) -> ParallelCompPipeline {
        ParallelCompPipeline(model: model, tokenizer: tok, config: config, format: format(tok, ex))
    }

    /// The stored settings line for these axes.
    func settings(_ axes: [SweepAxis]) throws -> String {
        try JSONCoding.line(SweepSettings(axes: axes, tasks: taskList, length: lengthTokens,
                                          examples: examples, base: base, model: modelPath))
    }

    /// Runs example `ei` at point `pi`.
    func measure(_ pi: Int, _ ei: Int, memo: ChunkScoreMemo?) throws -> SweepItemResult {
        if Signals.isInterrupted { throw CancellationError() }
        var config = configs[pi]
        if taskAnswerBudget { config.maxNewTokens = examples[ei].task.answerTokens }
        let pc = makePipeline(built[ei], config)
        pc.memo = memo
        let o = try RetrievalRunner.run(built[ei], pipeline: pc, measure: true, cancelled: { Signals.isInterrupted })
        return SweepItemResult(correct: o.correct ? 1 : 0, answerNLL: o.answerNLL ?? .nan, needleMass: o.needleMass ?? .nan,
                               needleKept: o.needleChunk.map { o.keptChunks.contains($0) } == true ? 1 : 0, kvBytes: o.kvBytes ?? .nan, seconds: o.seconds,
                               chunksPrefilled: Int64(o.chunkCount - o.chunksReused - o.chunksUnscored), chunksReused: Int64(o.chunksReused))
    }

    /// The work list of a sharded run: every (point, example), point-major, with its estimated cost.
    func shardJob(_ cmd: Sweep, shard: Shard) throws -> SweepShardJob {
        let costs = points.indices.flatMap { pi in
            examples.indices.map { _ in
                WorkPartition.retrievalCost(contextTokens: lengthTokens, chunkTokens: configs[pi].chunkTokens ?? model.config.contextLength,
                                            keepChunks: configs[pi].keepChunks)
            }
        }
        return SweepShardJob(command: cmd, shard: shard, axes: axes, points: points, examples: examples, settings: try settings(axes),
                             modelPath: modelPath, costs: costs)
    }
}
