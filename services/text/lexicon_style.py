"""Word lists for the writing-style categories of the opinion-spam study (our own lists).

Ott, Choi, Cardie & Hancock (ACL 2011) found that fabricated reviews read like imaginative
writing (more verbs, adverbs and pronouns, more about the writer's family and why they
travelled, more superlatives and positive emotion) and genuine ones like informative writing
(more nouns, articles and prepositions, more spatial detail and concrete facts such as prices).
These lists follow those LIWC categories and the closed word classes a part-of-speech tagger
would find; no tagger or dictionary file is needed. Rule-based style categories (adverbs,
superlatives, exclamations) are in patterns.py. Matching is the same as for lexicon.py.
"""

from __future__ import annotations

# fmt: off
STYLE_LEXICON: dict[str, tuple[str, ...]] = {
    # LIWC "you": addressing the reader ("you will love it") is common in fabricated praise.
    "second_person": (
        "you", "your", "yours", "yourself", "yourselves", "you're", "you've", "you'd",
        "you'll", "y'all",
    ),
    # LIWC "posemo", short: evaluative praise rather than reported detail.
    "positive_emotion": (
        "love", "loved", "loving", "lovely", "nice", "good", "great", "happy", "glad",
        "enjoy", "enjoyed", "enjoying", "wonderful", "excellent", "amazing", "awesome",
        "beautiful", "perfect", "fantastic", "fabulous", "pleasant", "pleased", "delighted",
        "delightful", "comfortable", "friendly", "fun", "favorite", "favourite", "impressed",
        "impressive", "gorgeous", "relaxing", "relaxed", "thank", "thanks", "grateful",
        "terrific", "superb", "outstanding", "exceptional", "incredible", "charming",
        "cheerful", "joy", "proud", "hope", "hopefully", "smile", "smiled", "laugh", "laughed",
    ),
    # LIWC "family" and "friend": Ott et al.'s fabricated reviews name the writer's company.
    "family_friends": (
        "husband", "wife", "boyfriend", "girlfriend", "fiance", "fiancee", "spouse",
        "partner", "kids", "kid", "children", "child", "son", "sons", "daughter", "daughters",
        "mom", "mother", "dad", "father", "parents", "parent", "brother", "brothers", "sister",
        "sisters", "family", "families", "friend", "friends", "baby", "grandmother",
        "grandfather", "grandma", "grandpa", "aunt", "uncle", "cousin", "cousins", "relatives",
        "husband's", "wife's", "friend's", "son's", "daughter's", "mom's", "dad's",
        "mother's", "father's", "brother's", "sister's",
    ),
    # LIWC "money": prices, rates and payments are concrete, checkable detail.
    "money": (
        "money", "price", "prices", "priced", "pricey", "cost", "costs", "costly",
        "expensive", "cheap", "cheaper", "cheapest", "pay", "paid", "paying", "dollar",
        "dollars", "bucks", "fee", "fees", "charge", "charged", "charges", "rate", "rates",
        "deal", "bargain", "budget", "afford", "affordable", "bill", "billed", "refund",
        "refunded", "tip", "tips", "tax", "taxes", "cash", "credit", "discount", "discounted",
        "overpriced", "worth", "value", "spent", "spend", "spending", "cents", "buck",
    ),
    # Closed word classes a tagger would label DT (articles) and IN (prepositions): more of
    # them marks informative, noun-heavy writing.
    "articles": ("a", "an", "the"),
    "prepositions": (
        "about", "above", "across", "after", "against", "along", "among", "around", "at",
        "before", "behind", "below", "beneath", "beside", "besides", "between", "beyond", "by",
        "despite", "down", "during", "except", "for", "from", "in", "inside", "into", "near",
        "of", "off", "on", "onto", "out", "outside", "over", "past", "since", "through",
        "throughout", "till", "to", "toward", "towards", "under", "underneath", "until", "up",
        "upon", "with", "within", "without",
    ),
}
# fmt: on
