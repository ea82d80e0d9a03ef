import Foundation
import XCTest

/// Every subcommand's options, as the built binary declares them (ArgumentParser's
/// `--experimental-dump-help` tree). Two arguments with one name make ArgumentParser keep the
/// first silently (release builds do not check), so the other can never be set: `trace` once had
/// its pass-key `--seed` shadowed by the shared sampling `--seed`.
final class CommandLineNamesTests: XCTestCase {
    struct Name: Decodable, Hashable { let kind: String; let name: String }
    struct Argument: Decodable { let names: [Name]? }
    struct Command: Decodable {
        let commandName: String
        let arguments: [Argument]?
        let subcommands: [Command]?
    }
    struct Tool: Decodable { let command: Command }

    /// Names used by more than one argument of one command, as "path: --name".
    static func duplicates(in command: Command, path: String = "") -> [String] {
        let here = path.isEmpty ? command.commandName : "\(path) \(command.commandName)"
        var seen: [Name: Int] = [:]
        for a in command.arguments ?? [] { for n in Set(a.names ?? []) { seen[n, default: 0] += 1 } }
        let dashes = ["long": "--", "short": "-", "longWithSingleDash": "-"]
        var out = seen.filter { $0.value > 1 }.map { "\(here): \(dashes[$0.key.kind] ?? "")\($0.key.name)" }.sorted()
        for s in command.subcommands ?? [] { out += duplicates(in: s, path: here) }
        return out
    }

    func commandTree() throws -> Command {
        let r = try CLI.run(["--experimental-dump-help"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try JSONDecoder().decode(Tool.self, from: Data(r.stdout.utf8)).command
    }

    func testNoSubcommandDeclaresOneNameTwice() throws {
        let root = try commandTree()
        // The tree is really walked: the commands this test exists for are in it.
        func find(_ c: Command, _ name: String) -> Command? {
            c.commandName == name ? c : (c.subcommands ?? []).lazy.compactMap { find($0, name) }.first
        }
        let trace = try XCTUnwrap(find(root, "trace"))
        let names = Set((trace.arguments ?? []).flatMap { $0.names ?? [] }.map(\.name))
        XCTAssertTrue(names.isSuperset(of: ["passkey-seed", "sampling-seed", "context", "model"]), "\(names.sorted())")
        XCTAssertNotNil(find(root, "sweep")); XCTAssertNotNil(find(root, "eval"))
        XCTAssertEqual(Self.duplicates(in: root), [])
    }

    /// The check itself can fail: a tree with a repeated name is reported.
    func testDuplicateNamesAreFound() throws {
        let seed = Argument(names: [Name(kind: "long", name: "seed")])
        let tree = Command(commandName: "biasprobe", arguments: [], subcommands: [
            Command(commandName: "trace", arguments: [seed, Argument(names: [Name(kind: "long", name: "depth")]), seed], subcommands: nil)])
        XCTAssertEqual(Self.duplicates(in: tree), ["biasprobe trace: --seed"])
    }

    /// The two seeds of `trace` are separate options that each take effect.
    func testTraceSeedsAreDistinct() throws {
        let model = try TinyModel.path()
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        func question(seed: Int) throws -> (String, String) {
            let out = dir.appendingPathComponent("s\(seed).h5").path
            let r = try CLI.run(["trace", "--model", model, "--context", "300", "--chunk-tokens", "192", "--passkey-seed", String(seed),
                                 "--sampling-seed", "7", "--max-tokens", "1", "--no-prefill-rows", "--quiet", "--json", "--out", out])
            XCTAssertEqual(r.status, 0, r.stderr)
            let j = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
            let attrs = try CLI.python("import h5py,sys\nf=h5py.File(sys.argv[1],'r'); print(f.attrs['passkey_seed'], f.attrs['config_json'])", args: [out])
            XCTAssertEqual(attrs.status, 0, attrs.stderr)
            return (j["expected_answer"] as! String, attrs.stdout)
        }
        let (a, attrsA) = try question(seed: 1), (b, _) = try question(seed: 2)
        XCTAssertNotEqual(a, b, "--passkey-seed did not change the pass key")
        XCTAssertTrue(attrsA.hasPrefix("1 "), attrsA)
        XCTAssertTrue(attrsA.contains("\"seed\":7"), "--sampling-seed did not reach the pipeline config: \(attrsA)")
    }
}
