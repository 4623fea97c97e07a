"""The word lists behind the linguistic cues (our own, short, deliberately plain).

LIWC's dictionaries (Pennebaker et al.) are proprietary; these lists follow its categories
and the verbal-cue literature so that every count can be explained by pointing at the words
in the text. Categories found by rule rather than by list (passive voice, numbers, clock
times, proper nouns) are in patterns.py.
"""

from __future__ import annotations

# Each entry is a word or a phrase (space-separated words), matched on lower-cased tokens with
# the apostrophe normalised; within a category the longest phrase wins and matches never
# overlap. A word may belong to several categories (as in LIWC): "not sure" is a hedge whose
# "not" is also a negation.
# fmt: off
LEXICON: dict[str, tuple[str, ...]] = {
    # Self-reference; Newman et al.: liars distance themselves from the story.
    "first_person_singular": (
        "i", "me", "my", "mine", "myself", "i'm", "i've", "i'd", "i'll", "im", "ive",
    ),
    "first_person_plural": (
        "we", "us", "our", "ours", "ourselves", "we're", "we've", "we'd", "we'll", "let's",
    ),
    "negations": (
        "no", "not", "never", "none", "nobody", "nothing", "nowhere", "neither", "nor",
        "cannot", "don't", "didn't", "doesn't", "can't", "won't", "isn't", "wasn't", "aren't",
        "weren't", "couldn't", "wouldn't", "shouldn't", "haven't", "hasn't", "hadn't", "ain't",
        "dont", "didnt", "cant", "wont",
    ),
    # Tentative language: the speaker avoids committing to the claim.
    "hedges": (
        "maybe", "perhaps", "possibly", "probably", "might", "apparently", "somewhat",
        "presumably", "supposedly", "seemingly", "unsure", "uncertain", "sort of", "kind of",
        "i think", "i guess", "i suppose", "i believe", "not sure", "not certain",
        "i don't know", "i'm not sure", "as far as i know", "if i remember", "seems", "seemed",
        "guess", "suppose",
    ),
    # Certainty and credibility markers ("honestly", "to be honest").
    "certainty": (
        "definitely", "certainly", "absolutely", "clearly", "obviously", "undoubtedly",
        "always", "completely", "totally", "exactly", "truly", "surely", "for sure",
        "of course", "without a doubt", "honestly", "to be honest", "i swear", "no doubt",
        "100 percent",
    ),
    "negative_emotion": (
        "afraid", "scared", "fear", "worried", "worry", "nervous", "anxious", "angry", "anger",
        "mad", "furious", "hate", "hated", "sad", "upset", "unhappy", "miserable", "cried",
        "cry", "hurt", "guilty", "ashamed", "embarrassed", "annoyed", "frustrated",
        "disappointed", "disappointing", "awful", "terrible", "horrible", "worst", "bad",
        "disgusting", "rude", "stress", "stressed",
    ),
    # Cognitive-process words: causation and insight.
    "cognitive": (
        "think", "thought", "know", "knew", "known", "understand", "understood", "realize",
        "realized", "remember", "remembered", "recall", "forgot", "forget", "consider",
        "considered", "decide", "decided", "wonder", "wondered", "because", "cause", "reason",
        "therefore", "hence", "why", "figure", "figured", "mean", "meant",
    ),
    # Sensory and perceptual detail (reality monitoring: experienced events carry more).
    "perceptual": (
        "see", "saw", "seen", "look", "looked", "looking", "watch", "watched", "hear", "heard",
        "listen", "listened", "sound", "sounded", "loud", "quiet", "noise", "feel", "felt",
        "touch", "touched", "smell", "smelled", "taste", "tasted", "noticed", "notice",
        "bright", "dark", "cold", "warm", "hot", "soft",
    ),
    # Exclusive words mark distinctions; Newman et al. found fewer of them in lies.
    "exclusive": (
        "but", "except", "without", "unless", "although", "though", "however", "whereas",
        "rather", "instead", "besides", "exclude", "excluding", "apart from", "other than",
    ),
    # Distancing: the story told about others, or about no one in particular.
    "third_person": (
        "he", "him", "his", "himself", "she", "her", "hers", "herself", "they", "them",
        "their", "theirs", "themselves", "he's", "she's", "they're", "they've", "they'd",
        "they'll", "he'd", "she'd", "he'll", "she'll",
    ),
    "impersonal": (
        "someone", "somebody", "something", "anyone", "anybody", "anything", "everyone",
        "everybody", "everything", "no one", "nobody", "nothing", "people", "a person",
        "one another",
    ),
    # Detail and specificity (reality monitoring: time and place of an experienced event).
    "temporal": (
        "before", "after", "afterwards", "afterward", "then", "when", "while", "during",
        "until", "till", "since", "later", "earlier", "soon", "meanwhile", "yesterday", "today",
        "tonight", "tomorrow", "morning", "afternoon", "evening", "night", "noon", "midnight",
        "o'clock", "minute", "minutes", "hour", "hours", "week", "weekend", "monday", "tuesday",
        "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february", "april",
        "june", "july", "august", "september", "october", "november", "december",
        "last night", "that night", "that morning", "the next day", "the day before",
    ),
    "spatial": (
        "behind", "beside", "next to", "near", "nearby", "inside", "outside", "above",
        "below", "beneath", "under", "underneath", "between", "across", "along", "opposite",
        "upstairs", "downstairs", "in front of", "on top of", "on the left", "on the right",
        "to the left", "to the right", "toward", "towards", "into", "onto", "through",
        "far from", "close to", "north", "south", "east", "west",
    ),
    "places": (
        "home", "house", "apartment", "office", "room", "kitchen", "bedroom",
        "bathroom", "hallway", "garage", "garden", "yard", "street", "road", "highway",
        "corner", "car", "building", "store", "shop", "bar", "restaurant", "cafe", "park",
        "station", "school", "warehouse", "parking lot", "hotel", "lobby", "hospital", "bank",
        "church", "city", "town", "door", "window", "floor", "stairs",
    ),
}
# fmt: on
