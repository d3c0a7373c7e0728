"""Common English given names and the short forms people give at the till.

A profile typed as "Bob" and an eCom order placed as "Robert" are one person far more
often than two; string distance cannot see that (Jaro-Winkler of bob/robert is 0.57), so
the groups are listed. A name may sit in several groups ("alex" is short for Alexander
and Alexandra, "sam" for Samuel and Samantha, "jack" for John and Jackson), and two names
are nicknames of each other when they share any group. Names are folded (lower case,
no accents), as ``matching.fold`` leaves them.

The table favours the pairings staff actually see in US and Canadian stores; it is not
a genealogy and deliberately leaves out rare or archaic forms that would join strangers.
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache

__all__ = ["NICKNAME_GROUPS", "nickname_groups", "nickname_of"]

# One group a line: the formal name first, then the short forms. Order carries no meaning
# beyond readability.
NICKNAME_GROUPS: tuple[tuple[str, ...], ...] = (
    ("abigail", "abby", "abbie", "gail"),
    ("albert", "al", "bert", "bertie"),
    ("alexander", "alex", "alec", "xander", "al"),
    ("alexandra", "alex", "alexa", "lexi", "sasha", "sandra", "sandy"),
    ("alfred", "al", "alf", "fred", "freddie"),
    ("allison", "alison", "ally", "allie"),
    ("amanda", "mandy", "manda"),
    ("amelia", "millie", "amy", "mia"),
    ("andrea", "andie", "andi"),
    ("andrew", "andy", "drew"),
    ("angela", "angie"),
    ("anthony", "tony"),
    ("antonio", "tony", "toni"),
    ("august", "augustus", "gus"),
    ("barbara", "barb", "babs", "barbie"),
    ("beatrice", "bea", "trixie"),
    ("benjamin", "ben", "benny", "benji"),
    ("bradley", "brad"),
    ("brian", "bryan"),
    ("cameron", "cam"),
    ("caroline", "carolyn", "carol", "carrie", "caro"),
    ("cassandra", "cassidy", "cass", "cassie"),
    ("catherine", "katherine", "kathryn", "kate", "katie", "kathy", "cathy", "kat", "kit"),
    ("charles", "charlie", "chuck", "chaz", "chas"),
    ("charlotte", "charlie", "lottie", "lotte"),
    ("christina", "christine", "chris", "tina", "chrissy", "kristina", "kristine"),
    ("christopher", "chris", "kit", "topher"),
    ("cynthia", "cindy"),
    ("daniel", "dan", "danny"),
    ("danielle", "dani", "elle"),
    ("david", "dave", "davey", "davy"),
    ("deborah", "debra", "deb", "debbie", "debby"),
    ("dominic", "dominick", "dom"),
    ("donald", "don", "donnie", "donny"),
    ("dorothy", "dot", "dottie", "dolly"),
    ("douglas", "doug"),
    ("edward", "ed", "eddie", "eddy", "ted", "teddy", "ned"),
    ("edwin", "ed", "eddie"),
    ("eleanor", "ellie", "nora", "nell", "elle"),
    ("elena", "helena", "lena"),
    ("elias", "eli"),
    ("elizabeth", "liz", "lizzie", "lizzy", "beth", "betty", "betsy", "eliza", "libby"),
    ("elliot", "elliott", "eli"),
    ("emily", "em", "emmy", "emmie"),
    ("emma", "em", "emmy"),
    ("eugene", "gene"),
    ("evelyn", "evie", "eve"),
    ("frances", "fran", "frannie", "fanny"),
    ("francis", "frank", "frankie", "fran"),
    ("franklin", "frank", "frankie"),
    ("frederick", "fred", "freddie", "freddy"),
    ("gabriel", "gabe"),
    ("gabriela", "gabriella", "gabby", "gabi"),
    ("gabrielle", "gabby", "gabi", "elle"),
    ("gerald", "gerry", "jerry"),
    ("gregory", "greg"),
    ("harold", "harry", "hal"),
    ("henry", "hank", "harry", "hal"),
    ("isaac", "ike", "zac"),
    ("isabella", "isabel", "isabelle", "bella", "izzy", "isa"),
    ("jackson", "jack", "jax"),
    ("jacob", "jake", "jay"),
    ("jacqueline", "jackie", "jacqui"),
    ("james", "jim", "jimmy", "jamie", "jimbo"),
    ("janet", "jan"),
    ("jasmine", "jas", "jazz", "jaz"),
    ("jeffrey", "geoffrey", "jeff", "geoff"),
    ("jennifer", "jen", "jenn", "jenny", "jenni"),
    ("jessica", "jess", "jessie", "jessi"),
    ("joanna", "joanne", "jo"),
    ("john", "jack", "johnny", "jon", "jonny"),
    ("jonathan", "jon", "jonny"),
    ("joseph", "joe", "joey"),
    ("josephine", "jo", "josie"),
    ("joshua", "josh"),
    ("judith", "judy", "jude"),
    ("julia", "julie", "jules"),
    ("julian", "jules"),
    ("katrina", "kat", "trina"),
    ("kenneth", "ken", "kenny"),
    ("kimberly", "kimberley", "kim", "kimmy"),
    ("laura", "laurie", "lori"),
    ("lawrence", "laurence", "larry", "laurie"),
    ("leonard", "leo", "len", "lenny"),
    ("louis", "lou", "louie"),
    ("louise", "lou", "lulu"),
    ("lucas", "luke", "luca"),
    ("lucia", "lucy"),
    ("madeline", "madeleine", "maddie", "maddy"),
    ("madison", "maddie", "maddy"),
    ("margaret", "maggie", "meg", "peggy", "marge", "margie", "greta"),
    ("matthew", "matt", "matty"),
    ("maxwell", "max"),
    ("megan", "meg"),
    ("melanie", "mel"),
    ("melissa", "mel", "missy", "lissa"),
    ("michael", "mike", "mikey", "mick", "mickey", "mitch"),
    ("mitchell", "mitch"),
    ("natalie", "nat", "nattie"),
    ("nathaniel", "nathan", "nate", "nat"),
    ("nicholas", "nick", "nicky", "nico"),
    ("nicole", "nicky", "nikki", "nic"),
    ("oliver", "ollie"),
    ("olivia", "liv", "livvy", "ollie"),
    ("pamela", "pam"),
    ("patricia", "pat", "patty", "patti", "trish", "tricia", "trisha"),
    ("patrick", "pat", "paddy"),
    ("penelope", "penny", "pen"),
    ("peter", "pete"),
    ("philip", "phillip", "phil", "pip"),
    ("raymond", "ray"),
    ("rebecca", "becky", "becca", "bec"),
    ("richard", "rick", "ricky", "rich", "richie", "dick"),
    ("robert", "bob", "bobby", "rob", "robbie", "bert", "robby"),
    ("roberta", "bobbie", "robbie"),
    ("ronald", "ron", "ronnie", "ronny"),
    ("rosalind", "rosa", "rose", "rosie"),
    ("samantha", "sam", "sammy", "sammie"),
    ("samuel", "sam", "sammy"),
    ("sandra", "sandy", "sandi"),
    ("sofia", "sophia", "sophie"),
    ("stephanie", "steph", "stephie"),
    ("stephen", "steven", "steve", "stevie"),
    ("susan", "sue", "susie", "suzy", "suzanne"),
    ("theodore", "ted", "teddy", "theo"),
    ("thomas", "tom", "tommy"),
    ("timothy", "tim", "timmy"),
    ("tobias", "toby"),
    ("valerie", "val"),
    ("victor", "vic"),
    ("victoria", "vicky", "vicki", "tori", "tory"),
    ("vincent", "vince", "vinny"),
    ("walter", "walt", "wally"),
    ("wesley", "wes"),
    ("william", "bill", "billy", "will", "willy", "liam"),
    ("zachariah", "zach", "zack", "zac"),
    ("zachary", "zach", "zack", "zak"),
)


def _index() -> dict[str, frozenset[int]]:
    groups: dict[str, set[int]] = defaultdict(set)
    for number, names in enumerate(NICKNAME_GROUPS):
        for name in names:
            groups[name].add(number)
    return {name: frozenset(numbers) for name, numbers in groups.items()}


_GROUPS_OF = _index()


@lru_cache(maxsize=65536)
def nickname_groups(name: str) -> frozenset[int]:
    """The numbers of the groups a folded name belongs to (empty when it is in none)."""
    return _GROUPS_OF.get(name, frozenset())


def nickname_of(a: str, b: str) -> bool:
    """True when two different folded names share a group (bob/robert, kate/katherine).

    Equal names are not nicknames of each other: the caller counts that as an exact match.
    """
    if a == b:
        return False
    return not nickname_groups(a).isdisjoint(nickname_groups(b))
