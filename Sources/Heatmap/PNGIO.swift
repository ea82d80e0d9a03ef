// PNG encoding/decoding through libpng's simplified API, and crash-safe file writing.
import CPNG
import Foundation

/// A PNG read or write failure, with a one-line description.
public struct PNGError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ message: String) { description = message }
}

public enum PNG {
    /// Encodes the canvas as 8-bit RGBA PNG bytes. The output depends only on the pixels
    /// (no timestamps or other metadata), so it is deterministic.
    public static func encode(_ canvas: Canvas) throws -> [UInt8] {
        var image = png_image()
        image.version = cpng_image_version()
        image.width = png_uint_32(canvas.width)
        image.height = png_uint_32(canvas.height)
        image.format = cpng_format_rgba()
        let rowStride = png_int_32(canvas.width * 4)
        // One pass into a buffer of libpng's documented upper bound; if libpng still reports
        // the buffer too small it tells the size needed, and we try once more with that.
        var capacity = Int(cpng_png_size_max(&image))
        for _ in 0..<2 {
            var out = [UInt8](repeating: 0, count: capacity)
            var size = png_alloc_size_t(capacity)
            let ok = out.withUnsafeMutableBytes { dst in
                canvas.pixels.withUnsafeBytes { px in
                    png_image_write_to_memory(&image, dst.baseAddress, &size, 0, px.baseAddress, rowStride, nil)
                }
            }
            if ok != 0 {
                png_image_free(&image)
                out.removeSubrange(Int(size)...)
                return out
            }
            let msg = message(&image)
            png_image_free(&image)
            guard Int(size) > capacity else { throw PNGError("PNG encode failed: \(msg)") }
            capacity = Int(size)
            image = png_image()
            image.version = cpng_image_version()
            image.width = png_uint_32(canvas.width)
            image.height = png_uint_32(canvas.height)
            image.format = cpng_format_rgba()
        }
        throw PNGError("PNG encode failed: output buffer too small")
    }

    /// Writes the canvas to `path` atomically: the bytes go to a hidden temporary file in the
    /// same folder, which is flushed, closed and renamed over `path` only when every step
    /// succeeded. On any failure the temporary file is removed and a one-line error is thrown.
    public static func write(_ canvas: Canvas, to path: String) throws {
        let bytes = try encode(canvas)
        try writeAtomically(bytes, to: path)
    }

    /// Decodes a PNG file to an RGBA8 canvas (any PNG colour type is converted to RGBA).
    public static func read(_ path: String) throws -> Canvas {
        var image = png_image()
        image.version = cpng_image_version()
        guard png_image_begin_read_from_file(&image, path) != 0 else {
            let msg = message(&image)
            png_image_free(&image)
            throw PNGError("cannot read PNG '\(path)': \(msg)")
        }
        image.format = cpng_format_rgba()
        let w = Int(image.width), h = Int(image.height)
        guard w > 0, h > 0, w <= 1 << 15, h <= 1 << 15 else {
            png_image_free(&image)
            throw PNGError("cannot read PNG '\(path)': unsupported size \(w)x\(h)")
        }
        var buffer = [UInt8](repeating: 0, count: w * h * 4)
        let ok = buffer.withUnsafeMutableBytes { dst in
            png_image_finish_read(&image, nil, dst.baseAddress, png_int_32(w * 4), nil)
        }
        guard ok != 0 else {
            let msg = message(&image)
            png_image_free(&image)
            throw PNGError("cannot decode PNG '\(path)': \(msg)")
        }
        png_image_free(&image)
        return Canvas(width: w, height: h, pixels: buffer)
    }

    private static func message(_ image: inout png_image) -> String {
        let text = withUnsafePointer(to: &image) { String(cString: cpng_image_message($0)) }
        return text.isEmpty ? "unknown libpng error" : text
    }

    static func writeAtomically(_ bytes: [UInt8], to path: String, kind: String = "PNG") throws {
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !base.isEmpty else { throw PNGError("cannot write \(kind) '\(path)': empty file name") }
        // rename() would replace a device, FIFO or socket node with the PNG: refuse anything at
        // `path` but a regular file or a symbolic link (whose target rename leaves alone).
        var st = stat()
        func refuseNonRegular() throws {
            if lstat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG, (st.st_mode & S_IFMT) != S_IFLNK {
                throw PNGError("cannot write \(kind) '\(path)': it exists and is not a regular file")
            }
        }
        try refuseNonRegular()
        let tmp = (dir.isEmpty ? "" : dir + "/") + ".\(base).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        func fail(_ what: String, _ code: Int32) -> PNGError {
            PNGError("cannot write \(kind) '\(path)': \(what) failed: \(String(cString: strerror(code)))")
        }
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail("creating a temporary file in '\(dir)'", errno) }
        var closed = false
        var done = false
        defer {
            if !closed { _ = close(fd) }
            if !done { _ = unlink(tmp) }
        }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { buf in
                Foundation.write(fd, buf.baseAddress! + offset, bytes.count - offset)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw fail("write", errno)
            }
            if n == 0 { throw fail("write", EIO) }
            offset += n
        }
        guard fsync(fd) == 0 else { throw fail("fsync", errno) }
        closed = true
        guard close(fd) == 0 else { throw fail("close", errno) }
        try refuseNonRegular()
        guard rename(tmp, path) == 0 else { throw fail("rename", errno) }
        done = true
    }
}
