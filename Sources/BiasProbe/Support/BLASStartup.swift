import Foundation
import PCInference

/// Makes sure OpenBLAS runs its best kernel for this processor.
///
/// Debian's OpenBLAS 0.3.21 does not recognise recent Xeons and falls back to the generic
/// "Prescott" kernel, about 5x slower. The kernel is chosen in the library's load-time
/// constructor, so setting OPENBLAS_CORETYPE inside `main` is too late: we set it and re-exec
/// the program once. A user's own OPENBLAS_CORETYPE is always respected. The choice of kernel
/// is the inference library's (`BLASKernelSelection`); the environment and the re-exec are the
/// program's.
enum BLASStartup {
    static let reexecMarker = "BIASPROBE_BLAS_REEXEC"

    /// Re-executes the current process with OPENBLAS_CORETYPE set when OpenBLAS picked a generic
    /// kernel on a processor that supports a better one. Returns only if no re-exec happened.
    static func ensureBestKernel() {
        let env = ProcessInfo.processInfo.environment
        guard env["OPENBLAS_CORETYPE"] == nil, env[reexecMarker] == nil else { return }
        // BIASPROBE_TEST_GENERIC_BLAS lets tests exercise the re-exec on machines where OpenBLAS
        // already recognises the processor.
        guard let want = BLASKernelSelection.coreTypeToRequest(current: BLAS.coreName, cpuFlags: BLASKernelSelection.cpuFlags(),
                                                               evenIfTuned: env["BIASPROBE_TEST_GENERIC_BLAS"] != nil) else { return }
        setenv("OPENBLAS_CORETYPE", want, 1)
        setenv(reexecMarker, BLAS.coreName, 1)
        let args = CommandLine.arguments
        var cargs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        cargs.append(nil)
        execv("/proc/self/exe", &cargs)
        // execv only returns on failure: carry on with the generic kernel.
        unsetenv("OPENBLAS_CORETYPE")
    }

    /// One line describing the kernel in use and how it was chosen.
    static var report: String {
        let env = ProcessInfo.processInfo.environment
        let core = BLAS.coreName
        if let before = env[reexecMarker] {
            return "\(core) (OpenBLAS picked \(before); biasprobe set OPENBLAS_CORETYPE=\(env["OPENBLAS_CORETYPE"] ?? "?"))"
        }
        if let user = env["OPENBLAS_CORETYPE"] { return "\(core) (OPENBLAS_CORETYPE=\(user) from the environment)" }
        return "\(core) (chosen by OpenBLAS)"
    }
}
