// Colour maps (256-entry lookup tables) and a categorical palette.

/// A 256-entry colour lookup table. `color(at:)` maps a fraction in 0...1 to an entry.
public struct Colormap: Sendable, Hashable {
    public let name: String
    /// Exactly 256 opaque colours, from the low end (index 0) to the high end (index 255).
    public let colors: [RGBA]

    public init(name: String, colors: [RGBA]) {
        precondition(colors.count == 256, "a Colormap needs 256 entries")
        self.name = name
        self.colors = colors
    }

    /// Builds a 256-entry table by piecewise-linear interpolation (in sRGB) through anchor
    /// colours given as (table index 0...255, r, g, b in 0...1). Indices must increase from 0 to 255.
    public init(name: String, anchors: [(index: Int, r: Double, g: Double, b: Double)]) {
        precondition(anchors.first?.index == 0 && anchors.last?.index == 255, "anchors must span 0...255")
        var table: [RGBA] = []
        table.reserveCapacity(256)
        var k = 0
        for i in 0..<256 {
            while k + 1 < anchors.count - 1 && anchors[k + 1].index <= i { k += 1 }
            let a = anchors[k], b = anchors[min(k + 1, anchors.count - 1)]
            let t = b.index == a.index ? 0 : Double(i - a.index) / Double(b.index - a.index)
            func ch(_ x: Double, _ y: Double) -> UInt8 {
                UInt8(min(255, max(0, ((x + (y - x) * t) * 255).rounded())))
            }
            table.append(RGBA(ch(a.r, b.r), ch(a.g, b.g), ch(a.b, b.b)))
        }
        self.init(name: name, colors: table)
    }

    /// The colour for fraction `t`: entry `floor(t * 256)` clamped to 0...255, so 0 gives the
    /// first entry, 1 the last, and each entry covers an equal 1/256 slice. NaN gives entry 0.
    public func color(at t: Double) -> RGBA {
        colors[Colormap.index(for: t)]
    }

    /// The table index used for fraction `t`.
    public static func index(for t: Double) -> Int {
        guard !t.isNaN else { return 0 }
        return Int(min(255, max(0, (t * 256).rounded(.down))))
    }

    public var first: RGBA { colors[0] }
    public var last: RGBA { colors[255] }

    /// The same map running the other way.
    public var reversed: Colormap { Colormap(name: name + "_r", colors: colors.reversed()) }

    public static func == (a: Colormap, b: Colormap) -> Bool { a.name == b.name && a.colors == b.colors }
    public func hash(into h: inout Hasher) { h.combine(name) }
}

extension Colormap {
    /// Viridis (van der Walt & Smith, matplotlib; CC0). Anchors are entries 0, 8, 16, ..., 248
    /// and 255 of the published 256-entry table, copied as published (6 decimals); the entries in
    /// between are linearly interpolated in sRGB. Against the published table this differs by at
    /// most one 8-bit step, and the endpoints are exact: #440154 and #FDE725.
    public static let viridis = Colormap(name: "viridis", anchors: [
        (0, 0.267004, 0.004874, 0.329415), (8, 0.277018, 0.050344, 0.375715),
        (16, 0.282327, 0.094955, 0.417331), (24, 0.282884, 0.135920, 0.453427),
        (32, 0.278826, 0.175490, 0.483397), (40, 0.270595, 0.214069, 0.507052),
        (48, 0.258965, 0.251537, 0.524736), (56, 0.244972, 0.287675, 0.537260),
        (64, 0.229739, 0.322361, 0.545706), (72, 0.214298, 0.355619, 0.551184),
        (80, 0.199430, 0.387607, 0.554642), (88, 0.185556, 0.418570, 0.556753),
        (96, 0.172719, 0.448791, 0.557885), (104, 0.160665, 0.478540, 0.558115),
        (112, 0.149039, 0.508051, 0.557250), (120, 0.137770, 0.537492, 0.554906),
        (128, 0.127568, 0.566949, 0.550556), (136, 0.120565, 0.596422, 0.543611),
        (144, 0.120638, 0.625828, 0.533488), (152, 0.132268, 0.655014, 0.519661),
        (160, 0.157851, 0.683765, 0.501686), (168, 0.196571, 0.711827, 0.479221),
        (176, 0.246070, 0.738910, 0.452024), (184, 0.304148, 0.764704, 0.419943),
        (192, 0.369214, 0.788888, 0.382914), (200, 0.440137, 0.811138, 0.340967),
        (208, 0.515992, 0.831158, 0.294279), (216, 0.595839, 0.848717, 0.243329),
        (224, 0.678489, 0.863742, 0.189503), (232, 0.762373, 0.876424, 0.137064),
        (240, 0.845561, 0.887322, 0.099702), (248, 0.926106, 0.897330, 0.104071),
        (255, 0.993248, 0.906157, 0.143936),
    ])

    /// Magma (van der Walt & Smith, matplotlib; CC0), built like `viridis`: anchors are entries
    /// 0, 8, ..., 248 and 255 of the published table, linear sRGB interpolation in between.
    /// Endpoints: #000004 and #FCFDBF.
    public static let magma = Colormap(name: "magma", anchors: [
        (0, 0.001462, 0.000466, 0.013866), (8, 0.013708, 0.011771, 0.068667),
        (16, 0.039608, 0.031090, 0.133515), (24, 0.074257, 0.052017, 0.202660),
        (32, 0.113094, 0.065492, 0.276784), (40, 0.159018, 0.068354, 0.352688),
        (48, 0.211718, 0.061992, 0.418647), (56, 0.265447, 0.060237, 0.461840),
        (64, 0.316654, 0.071690, 0.485380), (72, 0.366012, 0.090314, 0.497960),
        (80, 0.414709, 0.110431, 0.504662), (88, 0.463508, 0.129893, 0.507652),
        (96, 0.512831, 0.148179, 0.507648), (104, 0.562866, 0.165368, 0.504692),
        (112, 0.613617, 0.181811, 0.498536), (120, 0.664915, 0.198075, 0.488836),
        (128, 0.716387, 0.214982, 0.475290), (136, 0.767398, 0.233705, 0.457755),
        (144, 0.816914, 0.255895, 0.436461), (152, 0.863320, 0.283729, 0.412403),
        (160, 0.904281, 0.319610, 0.388137), (168, 0.937221, 0.364929, 0.368567),
        (176, 0.960949, 0.418323, 0.359630), (184, 0.976690, 0.476226, 0.364466),
        (192, 0.986700, 0.535582, 0.382210), (200, 0.992785, 0.594891, 0.410283),
        (208, 0.996096, 0.653659, 0.446213), (216, 0.997325, 0.711848, 0.488154),
        (224, 0.996898, 0.769591, 0.534892), (232, 0.995131, 0.827052, 0.585701),
        (240, 0.992440, 0.884330, 0.640099), (248, 0.989434, 0.941470, 0.697519),
        (255, 0.987053, 0.991438, 0.749504),
    ])

    /// Diverging blue-white-red map for signed differences: the 11 colours of ColorBrewer's
    /// RdBu scheme (Brewer, Harrower & Penn State; designed for perceptually even steps),
    /// ordered blue (low) to red (high), spread evenly over the table and interpolated in sRGB.
    /// The middle is the scheme's near-white #F7F7F7. Use it with a range symmetric about 0.
    public static let blueWhiteRed: Colormap = {
        let hexes: [UInt32] = [0x053061, 0x2166AC, 0x4393C3, 0x92C5DE, 0xD1E5F0, 0xF7F7F7,
                               0xFDDBC7, 0xF4A582, 0xD6604D, 0xB2182B, 0x67001F]
        let anchors = hexes.enumerated().map { i, h in
            (index: (i * 255 + 5) / 10, r: Double((h >> 16) & 0xFF) / 255,
             g: Double((h >> 8) & 0xFF) / 255, b: Double(h & 0xFF) / 255)
        }
        return Colormap(name: "blue-white-red", anchors: anchors)
    }()

    /// Plain grey ramp, black to white. Its middle equals the default NaN grey, so give a
    /// `ColorScale` using it a different `nanColor` (e.g. magenta) when the data may have NaN.
    public static let grays = Colormap(name: "grays", anchors: [(0, 0, 0, 0), (255, 1, 1, 1)])
}

/// Colours for distinct series.
public enum Palette {
    /// Okabe & Ito's colour-blind-safe palette, reordered so the first colours are the most
    /// legible on white (the pale yellow comes last). Series beyond 8 cycle.
    public static let categorical: [RGBA] = [
        RGBA(hex: 0x0072B2), RGBA(hex: 0xD55E00), RGBA(hex: 0x009E73), RGBA(hex: 0xCC79A7),
        RGBA(hex: 0xE69F00), RGBA(hex: 0x56B4E9), RGBA(hex: 0x000000), RGBA(hex: 0xF0E442),
    ]

    public static func color(_ i: Int) -> RGBA { categorical[((i % 8) + 8) % 8] }
}
