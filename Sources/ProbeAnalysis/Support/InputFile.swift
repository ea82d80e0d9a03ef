import Foundation

/// Reading a file a user named, with a message that says which of the usual things is wrong:
/// no such file, a folder, a FIFO or device (which would block or never end), or not UTF-8.
public enum InputFile {
    /// What is at a path, by `stat` (symbolic links followed).
    public enum Kind: Equatable {
        case missing, regular, directory, fifo, characterDevice, blockDevice, socket, other
        /// "a directory", "a FIFO"...: for messages.
        public var phrase: String {
            switch self {
            case .missing: return "no such file"
            case .regular: return "a regular file"
            case .directory: return "a directory"
            case .fifo: return "a FIFO (named pipe)"
            case .characterDevice: return "a character device"
            case .blockDevice: return "a block device"
            case .socket: return "a socket"
            case .other: return "not a regular file"
            }
        }
    }

    public static func kind(_ path: String) -> Kind {
        var st = stat()
        guard stat(path, &st) == 0 else { return .missing }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .regular
        case S_IFDIR: return .directory
        case S_IFIFO: return .fifo
        case S_IFCHR: return .characterDevice
        case S_IFBLK: return .blockDevice
        case S_IFSOCK: return .socket
        default: return .other
        }
    }

    /// Throws unless `path` is an existing regular file. `option` names where it came from
    /// ("--input", "--model"); `hint` is added to the "no such file" message.
    public static func requireRegular(_ path: String, option: String, hint: String = "") throws {
        switch kind(path) {
        case .regular: return
        case .missing: throw AnalysisError("\(option) \(path): no such file" + (hint.isEmpty ? "" : " (\(hint))"))
        case .directory: throw AnalysisError("\(option) \(path) is a directory, not a file")
        case let k: throw AnalysisError("\(option) \(path) is \(k.phrase), not a regular file")
        }
    }

    /// The bytes of a regular file.
    public static func data(_ path: String, option: String) throws -> Data {
        try requireRegular(path, option: option)
        do { return try Data(contentsOf: URL(fileURLWithPath: path)) }
        catch { throw AnalysisError("\(option) \(path): cannot read it (\(Self.reason(error)))") }
    }

    /// The text of a regular UTF-8 file; invalid UTF-8 is named with the offset of the first bad byte.
    public static func text(_ path: String, option: String) throws -> String {
        let d = try data(path, option: option)
        if let s = String(data: d, encoding: .utf8) { return s }
        throw AnalysisError("\(option) \(path) is not UTF-8 text (first invalid byte at offset \(firstInvalidUTF8(d)))")
    }

    /// Offset of the first byte that does not belong to a valid UTF-8 sequence.
    public static func firstInvalidUTF8(_ d: Data) -> Int {
        let b = [UInt8](d)
        var i = 0
        while i < b.count {
            let c = b[i]
            let n = c < 0x80 ? 1 : c >> 5 == 0b110 ? 2 : c >> 4 == 0b1110 ? 3 : c >> 3 == 0b11110 ? 4 : 0
            guard n > 0, i + n <= b.count else { return i }
            for k in 1..<n where b[i + k] >> 6 != 0b10 { return i }
            guard String(bytes: b[i..<(i + n)], encoding: .utf8) != nil else { return i }
            i += n
        }
        return i
    }

    /// The POSIX reason inside a Foundation file error, else its description.
    public static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let u = ns.userInfo[NSUnderlyingErrorKey] as? NSError, u.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(u.code))) }
        return ns.localizedDescription
    }
}
