import CSpinPool
import Foundation

/// A raw pointer handed to worker threads. Safe in biasprobe because each worker writes a disjoint
/// region and the owner waits for all workers before touching the buffer again.
struct SharedPointer<T>: @unchecked Sendable {
    let p: UnsafeMutablePointer<T>
    init(_ p: UnsafeMutablePointer<T>) { self.p = p }
    init(_ p: UnsafePointer<T>) { self.p = UnsafeMutablePointer(mutating: p) }
}

/// The worker pool every parallel region uses.
public enum WorkerPool {
    /// Runs `body(i)` for every i in 0..<workers, each exactly once, and returns when all are done.
    ///
    /// The spinning pool of `CSpinPool` runs it when free; a nested or concurrent call (the pool is
    /// busy) goes to Dispatch instead. Which one ran never changes a number: each index gets the
    /// same slice either way.
    public static func run(_ workers: Int, _ body: @Sendable (Int) -> Void) {
        if workers <= 1 { body(0); return }
        withoutActuallyEscaping(body) { escapable in
            var job = escapable
            let ran = withUnsafeMutablePointer(to: &job) { jp in
                sp_run(Int32(workers), { ctx, w in
                    ctx!.assumingMemoryBound(to: (@Sendable (Int) -> Void).self).pointee(Int(w))
                }, jp)
            }
            if ran != 0 { DispatchQueue.concurrentPerform(iterations: workers, execute: escapable) }
        }
    }
}
