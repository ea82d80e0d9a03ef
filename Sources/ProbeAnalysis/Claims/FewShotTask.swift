import Foundation
import PCInference

/// A TREC-like few-shot classification task built from a seed (T14, T16).
///
/// Questions of four coarse TREC types (person, place, number, abbreviation) are made from
/// templates and fillers; each type gets a neutral label word (apple, river, ...) drawn from the
/// seed, so the mapping from question to label can only come from the demonstrations, not from
/// the model's prior knowledge of the words. Demonstrations come in shuffled rounds that hold
/// every type once, so every chunk sees every label and no chunk's tail favours one.
public struct FewShotTask: Sendable, Equatable {
    public struct Item: Sendable, Equatable {
        public var text: String
        public var type: Int
    }
    /// Label word of each type, in type order.
    public var labels: [String]
    public var demonstrations: [Item]
    public var query: Item
    public var answer: String { labels[query.type] }

    /// Label words: common, short, unrelated to question types.
    public static let labelPool = ["apple", "river", "stone", "cloud", "tiger", "paper", "glass", "horse"]

    public static let templates: [[(String, [String])]] = [
        // person
        [("Who wrote {}?", ["Hamlet", "War and Peace", "Don Quixote", "The Odyssey", "Moby Dick", "Pride and Prejudice", "Faust", "The Raven"]),
         ("Who invented the {}?", ["telephone", "light bulb", "printing press", "radio", "steam engine", "bicycle", "microscope", "compass"]),
         ("Who was the first person to {}?", ["climb Everest", "fly across the Atlantic", "walk on the Moon", "sail around the world", "reach the South Pole", "swim the Channel"]),
         ("Who painted {}?", ["the Mona Lisa", "The Starry Night", "Guernica", "The Scream", "The Night Watch", "The Last Supper"])],
        // place
        [("Where is {}?", ["the Eiffel Tower", "the Colosseum", "the Taj Mahal", "Machu Picchu", "the Great Wall", "Big Ben", "the Alhambra", "Angkor Wat"]),
         ("In which country is {}?", ["Lyon", "Porto", "Kyoto", "Cusco", "Krakow", "Mombasa", "Bergen", "Da Nang"]),
         ("Where do {} live?", ["penguins", "koalas", "camels", "polar bears", "lemurs", "llamas"]),
         ("Which river flows through {}?", ["Paris", "Cairo", "Vienna", "Baghdad", "London", "Budapest"])],
        // number
        [("How many {}?", ["days are in a week", "minutes are in an hour", "legs does a spider have", "months are in a year", "sides does a hexagon have", "keys does a piano have", "players are on a football team", "bones are in a human hand"]),
         ("In what year did {}?", ["the Berlin Wall fall", "the Titanic sink", "World War One end", "Columbus reach America", "the first Olympics take place", "the French Revolution begin"]),
         ("How tall is {}?", ["the Eiffel Tower", "Mount Everest", "the Statue of Liberty", "Big Ben", "the Burj Khalifa", "an adult giraffe"]),
         ("How much does {} cost?", ["a stamp", "a loaf of bread", "a train ticket", "a cup of coffee", "a new car", "a movie ticket"])],
        // abbreviation
        [("What does {} stand for?", ["NASA", "UNESCO", "DNA", "NATO", "UEFA", "LASER", "RADAR", "HTML"]),
         ("What is {} short for?", ["GPS", "FIFA", "ASAP", "UFO", "CEO", "ATM"]),
         ("What is the full form of {}?", ["USB", "PIN", "SIM", "VIP", "DVD", "LED"])],
    ]
    public static var typeCount: Int { templates.count }

    /// All questions of one type.
    public static func texts(ofType t: Int) -> [String] {
        templates[t].flatMap { tpl, fillers in fillers.map { tpl.replacingOccurrences(of: "{}", with: $0) } }
    }

    /// `rounds` rounds of demonstrations (each round every type once, in a seeded order), a query
    /// of a seeded type that is none of the demonstrations, and a seeded label per type.
    public static func make(rounds: Int, seed: UInt64) -> FewShotTask {
        var rng = SplitMix64(seed: seed &* 0x2545_F491_4F6C_DD1D &+ 14)
        func draw(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        func shuffled<T>(_ a: [T]) -> [T] {
            var a = a
            for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, draw(i + 1)) }
            return a
        }
        let labels = Array(shuffled(labelPool).prefix(typeCount))
        var pools = (0..<typeCount).map { shuffled(texts(ofType: $0)) }
        var used = Array(repeating: 0, count: typeCount)
        func take(_ t: Int) -> Item {
            // A pool used up starts over: demonstrations may repeat, the query never is one (below).
            if used[t] == pools[t].count { used[t] = 0 }
            defer { used[t] += 1 }
            return Item(text: pools[t][used[t]], type: t)
        }
        let queryType = draw(typeCount)
        let query = Item(text: pools[queryType].removeLast(), type: queryType)
        var demos: [Item] = []
        for _ in 0..<rounds { for t in shuffled(Array(0..<typeCount)) { demos.append(take(t)) } }
        return FewShotTask(labels: labels, demonstrations: demos, query: query)
    }

    public static func demonstration(_ d: Item, labels: [String]) -> String { "Question: \(d.text)\nType: \(labels[d.type])" }

    /// The demonstrations as C chunks of whole demonstrations, about equally many in each, a blank
    /// line between two; a chunk ends on its last label (its recent band), the question starts
    /// with the blank line.
    public func chunks(_ C: Int) -> [String] {
        (0..<C).map { c in
            let lo = demonstrations.count * c / C, hi = demonstrations.count * (c + 1) / C
            return demonstrations[lo..<hi].map { Self.demonstration($0, labels: labels) }.joined(separator: "\n\n")
        }
    }

    /// The query as prefilled, ending in "Type:" so that the label comes next: for a chat model
    /// the question in the user's turn and "Type:" opening the assistant's, for a model without a
    /// template plain text as in the demonstrations.
    public func questionIDs(_ tok: Tokenizer, layout: ClaimPromptLayout = .chat) -> [Int] {
        if tok.chatTemplate == nil || layout == .official { return tok.encode("\n\nQuestion: \(query.text)\nType:", parseSpecial: false, addBOS: false) }
        return PromptFormat.forTokenizer(tok, layout: .chat, answerPrefix: "Type:").questionIDs(tok, question: "Question: \(query.text)")
    }

    /// Token ids of a label as the answer after "Type:".
    public static func labelIDs(_ label: String, _ tok: Tokenizer) -> [Int] {
        tok.encode(" " + label, parseSpecial: false, addBOS: false)
    }
}
