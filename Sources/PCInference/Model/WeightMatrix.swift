/// A weight matrix [rows, cols] kept in its GGUF encoding inside the file mapping; for a linear
/// layer rows = out, cols = in (GGUF's ne = [in, out] is the same memory order). Nothing is
/// expanded at load: prefill dequantises it into a scratch buffer when it is used (see
/// `LinearRunner`), decode reads the blocks directly with the quantized dot kernels.
public struct Matrix: @unchecked Sendable {
    public let rows: Int, cols: Int
    public let type: GGMLType
    /// First byte of row 0; valid while the owning `GGUFFile` is alive (`LlamaWeights` holds it).
    public let raw: UnsafeRawPointer
    public let rowBytes: Int

    init(rows: Int, cols: Int, type: GGMLType, raw: UnsafeRawPointer) {
        self.rows = rows; self.cols = cols; self.type = type; self.raw = raw
        let g = type.blockGeometry!
        rowBytes = cols / g.elements * g.bytes
    }

    public var byteCount: Int { rows * rowBytes }
    public var elementCount: Int { rows * cols }

    /// The matrix as float32 in place, when it is stored as float32 (no copy needed).
    public var floats: UnsafePointer<Float>? { type == .f32 ? raw.assumingMemoryBound(to: Float.self) : nil }

    /// Dequantise rows [r0, r1) into y ([r1 - r0, cols]).
    public func dequantize(rows r0: Int, _ r1: Int, into y: UnsafeMutablePointer<Float>) {
        guard r1 > r0 else { return }
        Dequantize.run(type, UnsafeRawBufferPointer(start: raw + r0 * rowBytes, count: (r1 - r0) * rowBytes),
                       into: y, count: (r1 - r0) * cols)
    }
}
