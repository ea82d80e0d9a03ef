import Foundation

/// Float32 scratch that holds dequantised weight matrices for the sgemm (prefill) path.
///
/// When one layer's matrices fit in `layerBudgetBytes` the scratch holds the whole layer, so a
/// long prompt processed in several row blocks dequantises each matrix once per layer, not once
/// per block. Otherwise (large models) it holds one matrix at a time and every use dequantises
/// again: memory stays at one matrix (235 MB for an 8B FFN matrix), at some speed cost.
final class DequantScratch: @unchecked Sendable {
    static let layerBudgetBytes = 256 << 20

    let capacity: Int
    private let buffer: UnsafeMutablePointer<Float>
    private var slots: [UnsafeRawPointer: Int] = [:]   // matrix start -> offset in buffer
    private var used = 0

    /// Elements of scratch a pass uses with these weights.
    static func capacity(for weights: LlamaWeights) -> Int {
        let layer = weights.layerMatrixElements
        return layer * 4 <= layerBudgetBytes ? layer : weights.largestMatrixElements
    }

    init(weights: LlamaWeights) {
        capacity = Self.capacity(for: weights)
        buffer = .allocate(capacity: max(capacity, 1))
    }
    deinit { buffer.deallocate() }

    /// The matrix as float32: in place when stored so, else dequantised here (in parallel).
    /// The pointer is valid until the next call.
    func floats(_ w: Matrix, workers: Int) -> UnsafePointer<Float> {
        if let f = w.floats { return f }
        if let off = slots[w.raw] { return UnsafePointer(buffer + off) }
        precondition(w.elementCount <= capacity, "dequantisation scratch too small for a \(w.rows)x\(w.cols) matrix")
        if used + w.elementCount > capacity { slots.removeAll(keepingCapacity: true); used = 0 }
        let off = used
        used += (w.elementCount + 15) / 16 * 16
        slots[w.raw] = off
        let out = SharedPointer(buffer + off)
        let n = max(1, min(workers, w.rows / 64))
        WorkerPool.run(n) { i in
            let r0 = w.rows * i / n, r1 = w.rows * (i + 1) / n
            w.dequantize(rows: r0, r1, into: out.p + r0 * w.cols)
        }
        return UnsafePointer(buffer + off)
    }
}

/// Scratch buffers reused across forward passes, so repeated prefills do not fault in fresh
/// pages each time. Passes running at once each take their own.
final class ScratchPool: @unchecked Sendable {
    private var free: [PassScratch] = []
    private let lock = NSLock()
    private let make: () -> PassScratch

    init(_ make: @escaping () -> PassScratch) { self.make = make }

    func take() -> PassScratch {
        lock.lock(); defer { lock.unlock() }
        return free.popLast() ?? make()
    }
    func give(_ s: PassScratch) {
        lock.lock(); defer { lock.unlock() }
        if free.count < 2 { free.append(s) }
    }
}
