import CHDF5

/// The one error type of this module. `description` is a single line: the operation we tried and
/// the most specific message HDF5 (or the OS) gave, so it can go straight into a log or a CLI error.
public struct H5Error: Error, CustomStringConvertible, Sendable, Equatable {
    /// What we were doing, e.g. "open file '/tmp/x.h5'".
    public let operation: String
    /// HDF5's innermost message (the call that actually failed), or our own for usage errors.
    public let message: String
    /// HDF5's whole error stack, innermost first, one entry per frame ("function: message").
    /// Empty for errors that did not come from HDF5.
    public let stack: [String]

    public init(operation: String, message: String, stack: [String] = []) {
        self.operation = H5Error.oneLine(operation)
        self.message = H5Error.oneLine(message)
        self.stack = stack.map(H5Error.oneLine)
    }

    public var description: String { "\(operation): \(message)" }

    static func oneLine(_ s: String) -> String {
        s.split(whereSeparator: \.isNewline).map { $0.trimmingWhitespace() }.joined(separator: " ")
    }
}

extension H5Error {
    /// Builds an error from the calling thread's HDF5 error stack. Must run straight after the
    /// failing call: any later HDF5 API call clears the stack.
    static func fromStack(operation: String) -> H5Error {
        // Copy the stack first (this also clears the live one), so the message look-ups made while
        // walking cannot disturb what we are reading.
        let stackID = H5Eget_current_stack()
        guard stackID >= 0 else {
            return H5Error(operation: operation, message: "HDF5 call failed (error stack unavailable)")
        }
        defer { _ = H5Eclose_stack(stackID) }  // Nothing useful to do if closing a copy fails.

        var frames: [Frame] = []
        let walked = withUnsafeMutablePointer(to: &frames) { framesPtr in
            H5Ewalk2(stackID, H5E_WALK_UPWARD, { _, entry, clientData in
                guard let entry, let clientData else { return -1 }
                let frames = clientData.assumingMemoryBound(to: [Frame].self)
                frames.pointee.append(Frame(entry.pointee))
                return 0
            }, framesPtr)
        }
        guard walked >= 0, let innermost = frames.first else {
            return H5Error(operation: operation, message: "HDF5 call failed (empty error stack)")
        }
        return H5Error(operation: operation, message: innermost.usefulMessage,
                       stack: frames.map { "\($0.function): \($0.description)" })
    }

    /// One copied frame of an HDF5 error stack.
    struct Frame {
        let function: String
        let description: String
        let minor: String

        init(_ e: H5E_error2_t) {
            function = e.func_name.map { String(cString: $0) } ?? "?"
            description = e.desc.map { String(cString: $0) } ?? ""
            minor = Frame.message(e.min_num)
        }

        /// The minor message ("Not found", "File accessibility") names the error class; used only
        /// when the frame has no description of its own.
        private static func message(_ id: hid_t) -> String {
            var buffer = [CChar](repeating: 0, count: 256)
            let n = H5Eget_msg(id, nil, &buffer, buffer.count)
            guard n > 0 else { return "" }
            return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) },
                          as: UTF8.self)
        }

        /// Low-level I/O frames read "file write failed: time = ..., errno = 28, error message =
        /// 'No space left on device', buf = ..."; keep the lead and the OS message only.
        var usefulMessage: String {
            let text = description.isEmpty ? minor : description
            guard let lead = text.firstRange(of: ": "),
                  let errStart = text.firstRange(of: "error message = '"),
                  let errEnd = text[errStart.upperBound...].firstIndex(of: "'")
            else { return text }
            return text[..<lead.lowerBound] + ": " + text[errStart.upperBound..<errEnd]
        }
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var s = self
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return s
    }
}
