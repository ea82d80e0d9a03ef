import XCTest
import Foundation
import PCInference

/// Gemma's GeGLU (tanh GELU) in float32 against the textbook formula in float64.
final class GeGLUTests: XCTestCase {
    func testAgreesWithTanhFormulaInDouble() {
        // z from -30 to 30 (both tails, zero and the bend), an odd count so the scalar tail runs too.
        let n = 60_001
        var g = (0..<n).map { Float(-30 + 60 * Double($0) / Double(n - 1)) }
        let z = g
        let u = (0..<n).map { Float(1 + 0.5 * sin(Double($0))) }
        VectorMath.geglu(&g, u, n)
        var worst = 0.0
        for i in 0..<n {
            let x = Double(z[i])
            let ref = 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))) * Double(u[i])
            // Relative 1e-6, or 1e-10 absolute in the far negative tail, where the output is below
            // 1e-5 and the float32 argument of exp (about -2a) carries a relative error near 1e-7.
            worst = max(worst, abs(Double(g[i]) - ref) / (1e-6 * abs(ref) + 1e-10))
            XCTAssertTrue(g[i].isFinite, "z = \(x)")
        }
        XCTAssertLessThan(worst, 1, "error beyond 1e-6 relative + 1e-10 absolute")
    }
}
