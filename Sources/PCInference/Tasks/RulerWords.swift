/// Word lists for the RULER tasks. RULER draws its keys ("adjective-noun") and its common-words
/// lists from the `wonderwords` package's noun, adjective and verb files, which are not
/// available here; these are our own lists of common English words with the same roles. The
/// number of distinct keys (adjectives x nouns) is what matters for the NIAH tasks (no repeated
/// key in an example); CWE needs about 180 distinct words at 4K tokens and about 700 at 16K,
/// so past 8K its context is capped by the list, as RULER's is by its own (it says so).
enum RulerWords {
    static let adjectives = """
    able absent abundant acidic active adorable afraid agile alert amber ancient angry anxious aromatic ashamed \
    awake awful bald bashful bitter blank bold bored brave brief bright brisk broad bumpy busy calm careful \
    cheerful chilly clever cloudy clumsy coarse cold colossal cool cozy crisp crooked cruel curious curly damp \
    dapper dark dazzling deep delicate dense dizzy dry dull dusty eager early earnest elegant empty fancy \
    fearless feeble fierce filthy flat fluffy fond fragile frail fresh friendly frosty funny fuzzy gentle giant \
    gifted gleaming glossy golden graceful grand greasy green grumpy handsome happy harsh hasty heavy helpful \
    hidden hollow honest huge humble hungry icy idle jolly juicy keen kind large lazy leafy lean little lively \
    lonely loud lucky lush magic massive mellow merry mighty misty modern modest muddy narrow neat nervous \
    noble noisy odd orange pale patient plain plucky polite proud purple quick quiet rapid rare rich rigid \
    rough round royal rusty sad salty scarce shaggy sharp shiny short shy silent silky silly simple sleepy \
    slim slow small smooth soft solid sour spicy spotty steady steep sticky stormy strange strong sturdy \
    sunny sweet swift tall tame tender thick thin tidy tiny tough tranquil vast velvet vivid warm wary weary \
    wet wicked wide wild windy wise witty wooden young zany zealous
    """.split(separator: " ").map(String.init)

    static let nouns = """
    acorn anchor ant apple apron arch arrow attic badge bag bakery balloon banana barn basket beach bean bear \
    bell bench berry bicycle bird blanket boat bone book boot bottle bowl box branch bread brick bridge broom \
    brush bucket bug button cabin cake camel camera candle canoe canyon car carpet carrot castle cat cave \
    chair chalk cheese cherry chest chimney circle cliff clock cloud coat coin comet cookie copper corn cottage \
    cow crab crayon crown cup curtain daisy deer desert desk diamond dog dolphin door dragon drum duck eagle \
    engine feather fence fern field finger fish flag flame flower flute forest fork fountain fox frog garden \
    gate giraffe glove goat grape guitar hammer harbor hat hawk hill horse house island jacket jar jewel \
    kettle key kite ladder lake lamp lantern leaf lemon lion lizard lock magnet mango map marble meadow \
    mirror monkey moon mountain mouse mushroom needle nest net ocean olive onion orchard otter owl paddle \
    panda paper parrot peach pear pebble pencil pepper piano pillow pine planet plum pocket pond potato \
    puzzle rabbit radio raft rainbow river road robot rock rocket rope rose saddle sail salmon sand scarf \
    shell ship shoe shovel silver sled snail snake sock spoon squirrel stamp star stone stove sugar sun \
    swan table teapot tent tiger tomato tower tractor train tree trumpet tulip turtle umbrella valley vase \
    violin wagon wallet walnut whale wheel whistle window wolf worm yacht zebra
    """.split(separator: " ").map(String.init)

    static let verbs = """
    accept admire argue arrive bake balance bathe battle beg behave blink boast boil borrow bounce breathe \
    bruise bump buzz calculate carve chase cheer chew clap climb collect compare complain count crawl cycle \
    dance decide deliver depend describe dig discover divide drag dream drift drown dust earn educate \
    embrace escape examine explain explore fade fasten fetch float fold follow frighten gather giggle glow \
    grab grin guard guess hammer hang harvest hover hum hunt hurry imagine invent invite jog juggle kneel \
    knit knock laugh launch listen march measure melt mend mix nod obey observe offer open paint pause \
    peel perform pinch plant polish pour pray preach pretend print promise pull punch quiver race rattle \
    reach rely repair rescue rhyme rinse roar rub rush scatter scold scrub search shiver shrug sigh signal \
    sketch skip slide smile sneeze sniff snore sparkle spill sprout squeeze stir stretch stroll suggest \
    swing tease tickle trace travel tremble trot tumble twist unfold unlock vanish wander wave whisper \
    wiggle wink wobble wrap yawn yell zoom
    """.split(separator: " ").map(String.init)

    /// CWE's pool: every word once, in a fixed order (RULER sorts and shuffles its pool once with
    /// its fixed seed; we sort).
    static let all: [String] = Array(Set(adjectives + nouns + verbs)).sorted()
}
