// swift-tools-version:6.0
import PackageDescription

// Hot numeric code needs the host's vector units: without -march=native Swift lowers SIMD
// fused multiply-adds to libm calls. These flags are fine because biasprobe is a root package.
let fast: [SwiftSetting] = [
    .unsafeFlags(["-Xcc", "-march=native", "-enforce-exclusivity=unchecked"]),
    .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "biasprobe",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "biasprobe", targets: ["BiasProbe"]),
        .library(name: "PCInference", targets: ["PCInference"]),
        .library(name: "ProbeAnalysis", targets: ["ProbeAnalysis"]),
        .library(name: "HDF5Bridge", targets: ["HDF5Bridge"]),
        .library(name: "Heatmap", targets: ["Heatmap"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C libraries from Debian, reached through pkg-config (see README "Dependencies").
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5-serial", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng16", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // Quantized dot-product kernels (AVX2 / AVX-512 VNNI, chosen at run time); see its header.
        .target(name: "CQuant"),
        // Persistent worker threads that spin between parallel regions (decode runs ~150 a token).
        .target(name: "CSpinPool"),
        .target(name: "PCInference", dependencies: ["CBLAS", "CQuant", "CSpinPool"], swiftSettings: fast),
        .target(name: "HDF5Bridge", dependencies: ["CHDF5"]),
        .target(name: "Heatmap", dependencies: ["CPNG"], swiftSettings: fast),
        // The science on top of inference: claims, sweeps, eval parts and sharding, the eviction
        // lab's analysis, trace recording and reading. No argument parsing, no progress lines.
        .target(name: "ProbeAnalysis", dependencies: ["PCInference", "HDF5Bridge", "Heatmap", "COpenSSL"], swiftSettings: fast),
        .executableTarget(
            name: "BiasProbe",
            dependencies: [
                "ProbeAnalysis", "PCInference", "HDF5Bridge", "Heatmap",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: fast),

        // What the two model-running test targets share: the tiny test model and the eviction
        // lab's pipeline setup. A plain target (no XCTest), built only with the tests.
        .target(name: "TestSupport", dependencies: ["PCInference"], path: "Tests/TestSupport"),
        .testTarget(name: "PCInferenceTests", dependencies: ["PCInference", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "HDF5BridgeTests", dependencies: ["HDF5Bridge"]),
        .testTarget(name: "HeatmapTests", dependencies: ["Heatmap"]),
        // Runs most commands in-process (CommandLineEntry) and a few through the built binary.
        .testTarget(name: "BiasProbeTests", dependencies: ["BiasProbe", "ProbeAnalysis", "PCInference", "HDF5Bridge", "Heatmap", "TestSupport"],
                    exclude: ["Fixtures"]),
        // The claim statistics on synthetic attention (no model).
        .testTarget(name: "ClaimsTests", dependencies: ["ProbeAnalysis", "PCInference"]),
    ]
)
