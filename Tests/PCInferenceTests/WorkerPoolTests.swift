import Foundation
import XCTest
import PCInference

/// The spinning pool behind every parallel region: each index runs exactly once per job, also
/// when a region is nested in another or two threads start regions at once (both fall back).
final class WorkerPoolTests: XCTestCase {
    final class Counts: @unchecked Sendable {
        let lock = NSLock()
        var hits: [Int: Int] = [:]
        func add(_ k: Int) { lock.lock(); hits[k, default: 0] += 1; lock.unlock() }
    }

    func testEveryIndexRunsOnceAcrossManyJobs() {
        let c = Counts()
        for job in 0..<3000 {
            let n = 1 + job % 5
            WorkerPool.run(n) { i in c.add(job * 8 + i) }
        }
        let expected = (0..<3000).reduce(0) { $0 + 1 + $1 % 5 }
        XCTAssertEqual(c.hits.count, expected)
        XCTAssertTrue(c.hits.values.allSatisfy { $0 == 1 })
    }

    func testNestedAndConcurrentRegionsComplete() {
        let c = Counts()
        WorkerPool.run(2) { outer in
            WorkerPool.run(3) { inner in c.add(outer * 10 + inner) }   // pool busy: Dispatch runs it
        }
        XCTAssertEqual(Set(c.hits.keys), [0, 1, 2, 10, 11, 12])
        let d = Counts()
        DispatchQueue.concurrentPerform(iterations: 2) { t in
            for job in 0..<500 { WorkerPool.run(2) { i in d.add((t * 1000 + job) * 2 + i) } }
        }
        XCTAssertEqual(d.hits.count, 2000)
        XCTAssertTrue(d.hits.values.allSatisfy { $0 == 1 })
    }
}
