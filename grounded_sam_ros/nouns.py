# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Noun phrases of a caption, with no model and no download: closed word lists and English suffix rules.

Why not spaCy or NLTK: both need a model or corpus download at run time (``en_core_web_sm``, ``punkt`` +
``averaged_perceptron_tagger``), which an offline robot or a Ray worker must not depend on, and a tagger is only
asked for the *things* in short captions ("a man sitting at a table with a laptop"), where rules do well:

1. lower-case words; split at punctuation;
2. a phrase is a maximal run of words that are not function words (articles, pronouns, prepositions, conjunctions,
   auxiliaries, numbers), not verbs (a list of common ones, and ``-ing``/``-ed`` forms outside short lists of such
   nouns: "building", "bed") and not caption boilerplate ("picture of", "close up", BLIP's "arafed");
3. a run keeps at most its last three words (English noun phrases end in their head noun: "tennis racket");
4. a run made only of modifiers ("red", "small", "wooden") is dropped; the head (last word) is made singular.
"""

from __future__ import annotations

import re
from typing import List


def _words(text: str) -> frozenset:
    """A word list written as whitespace-separated text."""
    return frozenset(text.split())


_WORD = re.compile(r"[a-z]+(?:['-][a-z]+)*")
_BREAK = re.compile(r"[.,;:!?()\[\]\"/|]")

FUNCTION_WORDS = _words(
    """
    a an the this that these those there here it its it's they them their he him his she her hers we us our you
    your i me my mine who whom whose which what where when why how some any each every all both either neither
    no not nor other another such own same few many much more most several lot lots of in on at by for from to
    into onto upon over under above below behind beside besides between among through across along around near
    next against off out up down inside outside within without toward towards about after before during while
    with as than like and or but so yet if then also very too just only really is are was were be been being am
    has have had having do does did doing can could will would shall should may might must one two three four
    five six seven eight nine ten eleven twelve dozen couple pair group bunch number kind type sort set piece
    top bottom side front back middle center centre left right part full filled close closeup view image picture
    photo photograph shot scene background foreground something someone somebody thing things stuff area way
    other while together ready
    """
)
# Words BLIP-style captioners emit that are neither things nor modifiers of things
BOILERPLATE = _words(
    """
    arafed araffe arafly araf there's that's it's what's
    """
)
VERBS = _words(
    """
    sit sits sat stand stands stood hold holds held look looks lay lays lie lies lying lay eat eats ate play
    plays ride rides rode walk walks run runs ran fly flies flew carry carries wear wears wore use uses show
    shows shown seen see sees make makes made take takes took taken get gets got go goes went come comes came
    put puts set sets rest rests hang hangs hung park parks parked fill fills cover covers line lines top tops
    contain contains wait waits pose poses smile smiles talk talks drink drinks read reads watch watches work
    works cross crosses swim swims jump jumps throw throws catch catches hit hits cut cuts cook cooks drive
    drives lean leans sleep sleeps
    """
)
# -ing and -ed words that are things (or modifiers of things), not verb forms
ING_NOUNS = _words(
    """
    building buildings ceiling ceilings painting paintings clothing railing railings ring rings earring earrings
    king kings wing wings string strings spring swing swings pudding wedding bedding awning icing frosting
    stocking stockings sibling lightning ping dumpling dumplings stuffing topping toppings sling evening morning
    parking dining living sewing fishing cutting shopping sporting swimming sailing skiing bowling cling thing
    """
)
ED_NOUNS = _words(
    """
    bed beds shed sled sleds red seed weed reed steed shred bred fled
    """
)
MODIFIERS = _words(
    """
    red green blue yellow black white orange purple pink brown gray grey silver gold golden dark light bright
    colorful colourful small large big little tiny huge giant tall short long old new young wooden metal plastic
    glass empty open closed clean dirty wet dry hot cold round square many various different several beautiful
    pretty cute nice good great older younger other single double first second third last
    """
)

_IRREGULAR = {
    "men": "man",
    "women": "woman",
    "people": "person",
    "children": "child",
    "feet": "foot",
    "teeth": "tooth",
    "mice": "mouse",
    "geese": "goose",
    "oxen": "ox",
    "knives": "knife",
    "wives": "wife",
    "lives": "life",
    "leaves": "leaf",
    "loaves": "loaf",
    "shelves": "shelf",
    "wolves": "wolf",
    "halves": "half",
    "calves": "calf",
    "scarves": "scarf",
    "thieves": "thief",
    "buses": "bus",
    "cacti": "cactus",
    "fungi": "fungus",
    "dice": "die",
}
# Words that end in "s" and are already singular (or have no singular in use)
_INVARIANT = _words(
    """
    glasses sunglasses eyeglasses scissors pants jeans shorts trousers clothes goggles headphones binoculars
    tongs pliers species series news sheep deer fish aircraft lens bus gas canvas tennis chess bus christmas
    """
)
_IES_TO_IE = _words(
    """
    cookies movies pies ties zombies brownies selfies hoodies smoothies calories veggies lies
    """
)
_OES_TO_O = _words(
    """
    tomatoes potatoes heroes echoes mangoes volcanoes mosquitoes torpedoes dominoes
    """
)
_CHES_TO_CHE = _words(
    """
    headaches mustaches moustaches avalanches niches caches cliches
    """
)


def singular(word: str) -> str:
    """English singular of one lower-case word: ``"boxes" -> "box"``, ``"men" -> "man"``, ``"glass" -> "glass"``."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word in _INVARIANT or len(word) <= 3 or not word.endswith("s"):
        return word
    if word.endswith(("ss", "us", "is", "ous")):
        return word
    if word.endswith("ies"):
        return word[:-1] if word in _IES_TO_IE else word[:-3] + "y"
    if word.endswith("oes"):
        return word[:-2] if word in _OES_TO_O else word[:-1]
    if word.endswith("ches"):
        return word[:-1] if word in _CHES_TO_CHE else word[:-2]
    if word.endswith(("shes", "sses", "xes", "zzes")):
        return word[:-2]
    return word[:-1]


def _is_break(word: str) -> bool:
    """True for a word that ends a noun phrase (function word, verb form, boilerplate, number)."""
    if word in FUNCTION_WORDS or word in BOILERPLATE or word in VERBS or word.isdigit():
        return True
    if word.endswith("ing") and word not in ING_NOUNS:
        return True
    return word.endswith("ed") and not word.endswith("eed") and len(word) > 4 and word not in ED_NOUNS


def noun_phrases(caption: str, max_words: int = 3) -> List[str]:
    """The distinct noun phrases of ``caption`` in order of appearance, head noun singular.

    ``"Two dogs and a cat sitting on a red couch"`` -> ``["dog", "cat", "red couch"]``.
    """
    if not isinstance(caption, str):
        raise ValueError(f"caption must be a string, got {type(caption).__name__}")
    phrases: List[str] = []
    for clause in _BREAK.split(caption.lower()):
        run: List[str] = []
        for word in [*_WORD.findall(clause), ""]:  # "" flushes the last run
            if word and not _is_break(word):
                run.append(word)
                continue
            words = run[-max_words:]
            run = []
            if not words or all(w in MODIFIERS for w in words):
                continue
            head = words[-1]
            # "glasses" alone is eyewear; after another word ("wine glasses") it is the plural of glass
            head = "glass" if head == "glasses" and len(words) > 1 else singular(head)
            phrase = " ".join(words[:-1] + [head])
            if phrase not in phrases:
                phrases.append(phrase)
    return phrases
