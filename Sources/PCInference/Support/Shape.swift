/// The shape of a flat, row-major array ([layer, head, chunk, band] and the like), so the index
/// arithmetic of every observer, trace writer and plot is written once.
public struct Shape: Sendable, Equatable, CustomStringConvertible {
    public let dims: [Int]
    public init(_ dims: Int...) { self.dims = dims }
    public init(_ dims: [Int]) { self.dims = dims }

    public var count: Int { dims.reduce(1, *) }
    public var description: String { dims.map(String.init).joined(separator: " x ") }

    @inline(__always) public func callAsFunction(_ i: Int, _ j: Int) -> Int { i * dims[1] + j }
    @inline(__always) public func callAsFunction(_ i: Int, _ j: Int, _ k: Int) -> Int { (i * dims[1] + j) * dims[2] + k }
    @inline(__always) public func callAsFunction(_ i: Int, _ j: Int, _ k: Int, _ l: Int) -> Int {
        ((i * dims[1] + j) * dims[2] + k) * dims[3] + l
    }
}
