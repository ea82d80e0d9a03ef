import Foundation

/// A raw pointer handed to worker threads. Safe in biasprobe because each worker writes a disjoint
/// region and the owner waits for all workers before touching the buffer again.
struct SharedPointer<T>: @unchecked Sendable {
    let p: UnsafeMutablePointer<T>
    init(_ p: UnsafeMutablePointer<T>) { self.p = p }
    init(_ p: UnsafePointer<T>) { self.p = UnsafeMutablePointer(mutating: p) }
}

/// Runs `body(worker)` on `workers` threads and waits for all of them.
func parallelWorkers(_ workers: Int, _ body: @Sendable (Int) -> Void) {
    if workers <= 1 { body(0); return }
    DispatchQueue.concurrentPerform(iterations: workers, execute: body)
}
