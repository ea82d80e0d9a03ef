import PCInference
import TestSupport
import XCTest

/// TestSupport's tiny test model (see there), visible to every file of this target and built
/// from the default model; a missing default model fails the test (`CLI.requireModel`).
typealias TinyModel = TestSupport.TinyModel

extension TinyModel {
    static func path() throws -> String {
        try CLI.requireModel()
        return try path(source: CLI.modelPath)
    }
}
