/// Tensor element types of the GGML family, with their block geometry.
public enum GGMLType: UInt32, Sendable, CaseIterable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case iq2_xxs = 16, iq2_xs = 17, iq3_xxs = 18, iq1_s = 19, iq4_nl = 20, iq3_s = 21, iq2_s = 22, iq4_xs = 23
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_m = 29, bf16 = 30

    public var name: String {
        switch self {
        case .f32: return "F32"; case .f16: return "F16"; case .bf16: return "BF16"; case .f64: return "F64"
        case .q4_0: return "Q4_0"; case .q4_1: return "Q4_1"; case .q5_0: return "Q5_0"; case .q5_1: return "Q5_1"
        case .q8_0: return "Q8_0"; case .q8_1: return "Q8_1"; case .q2_K: return "Q2_K"; case .q3_K: return "Q3_K"
        case .q4_K: return "Q4_K"; case .q5_K: return "Q5_K"; case .q6_K: return "Q6_K"; case .q8_K: return "Q8_K"
        case .i8: return "I8"; case .i16: return "I16"; case .i32: return "I32"; case .i64: return "I64"
        default: return "\(self)".uppercased()
        }
    }

    /// (elements per block, bytes per block), or nil for types whose geometry biasprobe does not know.
    public var blockGeometry: (elements: Int, bytes: Int)? {
        switch self {
        case .f32: return (1, 4)
        case .f16, .bf16: return (1, 2)
        case .f64: return (1, 8)
        case .i8: return (1, 1); case .i16: return (1, 2); case .i32: return (1, 4); case .i64: return (1, 8)
        case .q4_0: return (32, 18)
        case .q4_1: return (32, 20)
        case .q5_0: return (32, 22)
        case .q5_1: return (32, 24)
        case .q8_0: return (32, 34)
        case .q8_1: return (32, 36)
        case .q2_K: return (256, 84)
        case .q3_K: return (256, 110)
        case .q4_K: return (256, 144)
        case .q5_K: return (256, 176)
        case .q6_K: return (256, 210)
        case .q8_K: return (256, 292)
        default: return nil
        }
    }

    /// Names of the types biasprobe reads, for error messages.
    public static let supportedNames = "F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K"

    /// Types that `Dequantize` turns into float32 (and that have a quantized dot kernel).
    public var canDequantize: Bool {
        switch self {
        case .f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K: return true
        default: return false
        }
    }
}
