import Foundation
import ProbeAnalysis

/// The checks every output path gets before any work starts, so that a run of hours never ends
/// by failing to write, and never by writing over something the user wanted to keep:
/// - not the same file as one of the command's inputs (by device and inode, so symbolic and
///   hard links count), since the atomic rename would replace that input;
/// - not a folder, device, FIFO or socket (the rename would replace the node itself);
/// - an existing result of a long run (a trace) only with --force;
/// - its folder exists and a file can be created in it (checked by creating one).
enum OutputFile {
    /// One input of the command: the option that named it and its path (nil when not given).
    typealias Input = (option: String, path: String?)

    /// `createsFolder`: the command makes a missing folder itself (figures), so only an existing
    /// folder is probed.
    static func check(_ path: String, option: String, inputs: [Input], existing: ExistingPolicy = .replace, createsFolder: Bool = false) throws {
        guard !path.isEmpty else { throw CLIError("\(option): the output path is empty") }
        var out = stat()
        if stat(path, &out) == 0 {
            let kind = InputFile.kind(path)
            guard kind == .regular else {
                throw CLIError("\(option) \(path) is \(kind.phrase), not a regular file: give the path of a file to write")
            }
            for (inOption, inPath) in inputs {
                guard let inPath else { continue }
                var st = stat()
                if stat(inPath, &st) == 0, st.st_dev == out.st_dev, st.st_ino == out.st_ino {
                    throw CLIError("\(option) \(path) is the same file as the input \(inOption) \(inPath): writing would destroy it; choose another output path")
                }
            }
            if case .refuseUnless(let force, let what) = existing, !force {
                throw CLIError("\(option) \(path) already exists (\(what)); pass --force to replace it, or choose another output path")
            }
        }
        if createsFolder, InputFile.kind(folder(of: path)) == .missing { return }
        try probeWritable(path, option: option)
    }

    enum ExistingPolicy {
        /// An existing regular file may be replaced (figures, JSON lines).
        case replace
        /// Replaced only when `force` (the long runs' results); `what` names the file's kind.
        case refuseUnless(force: Bool, what: String)
    }

    /// The folder of `path` ("." for a bare name).
    static func folder(of path: String) -> String {
        let d = (path as NSString).deletingLastPathComponent
        return d.isEmpty ? "." : d
    }

    /// Creates and removes a temporary file next to `path`, as the atomic writers will, so an
    /// unwritable place fails now, in milliseconds, with the reason.
    static func probeWritable(_ path: String, option: String) throws {
        let dir = folder(of: path)
        switch InputFile.kind(dir) {
        case .directory: break
        case .missing: throw CLIError("\(option) \(path): the folder \(dir) does not exist")
        case let k: throw CLIError("\(option) \(path): \(dir) is \(k.phrase), not a folder")
        }
        let name = (path as NSString).lastPathComponent
        let probe = "\(dir)/.\(name).probe-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw CLIError("\(option) \(path): cannot create a file in \(dir) (\(reason))")
        }
        close(fd)
        unlink(probe)
    }
}
