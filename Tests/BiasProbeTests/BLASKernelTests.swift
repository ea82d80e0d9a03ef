import XCTest

/// The program ends up on a tuned OpenBLAS kernel by itself and says which one.
final class BLASKernelTests: XCTestCase {
    /// The kernel is chosen when the program starts (and re-executes it): the built binary only.
    func info(_ env: [String: String]) throws -> [String: Any] {
        let r = try CLI.runBinary(["info", "--json"], environment: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
    }

    func testKernelIsNotGenericAndIsReported() throws {
        try CLI.requireModel()
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let j = try info([:])
        let kernel = (j["blas_kernel"] as? String ?? "").lowercased()
        XCTAssertFalse((j["blas_kernel_choice"] as? String ?? "").isEmpty)
        if flags.contains(" avx2") || flags.contains(" avx512f") {
            XCTAssertFalse(["prescott", "core2", "nehalem", "generic"].contains(kernel), "generic kernel \(kernel) on an AVX2/AVX-512 CPU")
        }
    }

    /// The program reads BIASPROBE_DECODE_PATH and BIASPROBE_CACHE and hands them to the inference
    /// library (which reads no environment) before every command, in-process runs included.
    func testEnvironmentReachesTheLibrary() throws {
        try CLI.requireModel()
        func decodePath(_ env: [String: String]) throws -> String? {
            let r = try CLI.run(["info", "--json"], environment: env)
            XCTAssertEqual(r.status, 0, r.stderr)
            return (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["decode_path"] as? String
        }
        XCTAssertEqual(try decodePath(["BIASPROBE_DECODE_PATH": "int8"]), "int8")
        XCTAssertEqual(try decodePath([:]), "float")
        let cache = try CLI.tempDir().appendingPathComponent("no-cache-here").path
        let r = try CLI.run(["info", "--model", "smollm2"], environment: ["BIASPROBE_CACHE": cache])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains(cache), r.stderr)
    }

    /// When OpenBLAS picks a generic kernel, biasprobe re-executes itself with OPENBLAS_CORETYPE.
    func testReexecPicksTunedKernel() throws {
        try CLI.requireModel()
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        guard flags.contains(" avx512f") || flags.contains(" avx2") else { throw XCTSkip("no AVX2 or AVX-512 on this CPU") }
        // A user's own choice is respected.
        let user = try info(["OPENBLAS_CORETYPE": "Haswell"])
        XCTAssertEqual((user["blas_kernel"] as? String ?? "").lowercased(), "haswell")
        XCTAssertTrue((user["blas_kernel_choice"] as? String ?? "").contains("from the environment"))
        // The re-exec itself only happens when nobody chose a kernel. Some hosts set
        // OPENBLAS_CORETYPE for every process (older OpenBLAS builds misbehave on their CPUs); the
        // test leaves that setting alone, so there the re-exec cannot be exercised.
        if let set = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] {
            throw XCTSkip("OPENBLAS_CORETYPE=\(set) is set in this environment; the user's choice was checked, the re-exec was not")
        }
        let j = try info(["BIASPROBE_TEST_GENERIC_BLAS": "1"])
        let choice = j["blas_kernel_choice"] as? String ?? ""
        XCTAssertTrue(choice.contains("biasprobe set OPENBLAS_CORETYPE="), choice)
        let want = flags.contains(" avx512f") ? "skylakex" : "haswell"
        XCTAssertEqual((j["blas_kernel"] as? String ?? "").lowercased(), want)
    }
}
