"""Critical words: the words of a language that decide a meaning (negation, question, who, action, object, currency,
when — `kiosk/translation/data/lexicon/<lang>.toml`, format in docs/translation-memory.md), and the normalisation
that both the bank's phrasings and what people say go through before they are compared.

Pure. `Lexicon.read(text)` gives the normalised text (case, width, traditional → simplified Chinese, punctuation,
speech-recogniser spacing folded away), the text without filler words (for the fuzzy comparison) and the critical
features; two sentences may mean the same only when their features agree (`memory` decides how).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

CJK = frozenset({"zh", "ja", "ko", "yue"})  # entries match as substrings; spaces carry no meaning
SET_CLASSES = ("action", "object", "currency", "when", "who")
FLAG_CLASSES = ("negation", "question")
SLOT_MARK = "§"  # stands for a slot value (an amount with its currency, a date …) in normalised text

# Sounds and words that carry no meaning at a counter; a bank may add its own (`filler = [...]` in its lexicon).
# Greetings, thanks and apologies are not filler: they are intents of their own ("Voilà votre carte" is not
# "Votre carte, s'il vous plaît"; "Bonjour monsieur" is not "Excusez-moi, monsieur").
FILLER: dict[str, tuple[str, ...]] = {
    "zh": ("嗯", "啊", "呃", "额", "哦", "哈", "呀", "嘛", "那个", "这个", "就是说", "就是", "然后", "麻烦", "请问", "一下",
           "吧", "的话"),
    "ja": ("えーと", "えっと", "ええと", "あのう", "あの", "その", "まあ", "ええ", "えー", "ちょっと"),
    "ko": ("음", "어", "저기요", "저기", "그", "좀", "아"),
    "en": ("um", "umm", "uh", "uhh", "er", "erm", "ah", "oh", "well", "so", "like", "just", "actually", "please",
           "kindly", "then", "now"),
    "fr": ("euh", "ben", "bah", "alors", "donc", "bon", "s'il vous plaît", "s'il te plaît", "svp", "juste"),
    "es": ("eh", "este", "pues", "bueno", "o sea", "por favor", "solo"),
    "de": ("äh", "ähm", "hm", "also", "na", "bitte", "mal", "halt", "eben", "doch"),
    "ru": ("э", "эм", "ну", "вот", "пожалуйста", "так", "значит", "просто"),
    "ar": ("اه", "ام", "يعني", "طيب", "من فضلك", "لو سمحت"),
}
# Exclamations that hold a critical word without its meaning ("oh no" is not "No."); read as a bank's `ignore` list.
IGNORE: dict[str, tuple[str, ...]] = {
    "en": ("oh no", "oh dear", "oh my god"), "fr": ("oh non", "oh là là"), "zh": ("要不", "要不然", "不错", "差不多"),
    "es": ("ay no",), "de": ("oh nein",), "ru": ("ой нет",),
}
_CONTRACTIONS = [(re.compile(r"\bcan'?t\b"), "can not"), (re.compile(r"\bwon'?t\b"), "will not"),
                 (re.compile(r"\bshan't\b"), "shall not"), (re.compile(r"\bain't\b"), "is not"),
                 (re.compile(r"\b(\w+)n't\b"), r"\1 not"), (re.compile(r"\b(i|you|we|they|he|she)'d\b"), r"\1 would"),
                 (re.compile(r"\b(i|you|we|they|he|she|it|that)'ll\b"), r"\1 will"), (re.compile(r"\bi'm\b"), "i am"),
                 (re.compile(r"\b(you|we|they)'re\b"), r"\1 are"), (re.compile(r"\b(i|you|we|they)'ve\b"), r"\1 have"),
                 (re.compile(r"\b(what|when|where|how|who|why|it|that|there|here|he|she)'s\b"), r"\1 is")]
_FR_ELISION = re.compile(r"\b(qu|[cdjlmnst])'(?=\w)")
_AR_DIACRITICS = re.compile("[\u064b-\u0652\u0670\u0640]")
_AR_PROCLITICS = "(?:وال|بال|فال|كال|لل|ال|و|ف|ب|ل)?"
_QUESTION_MARKS = "?？¿؟"
_A_NOT_A = re.compile(r"([\u4e00-\u9fff])[不没]\1")


@lru_cache(maxsize=1)
def _zhconv():
    import zhconv

    return zhconv


def fold(text: str, lang: str) -> str:
    """Case, width, script variants and punctuation folded away; the slot mark and word-inner ' and - kept.
    CJK text keeps no spaces."""
    t = unicodedata.normalize("NFKC", text)
    if lang in ("zh", "yue"):
        t = _zhconv().convert(t, "zh-cn")
    t = t.lower().replace("’", "'").replace("‘", "'").replace("`", "'")
    if lang == "en":
        for pat, rep in _CONTRACTIONS:
            t = pat.sub(rep, t)
    elif lang == "fr":
        t = _FR_ELISION.sub(r"\1' ", t)
    elif lang == "ar":
        t = _AR_DIACRITICS.sub("", t).translate(str.maketrans("أإآى", "اايي"))
    elif lang == "ru":
        t = t.replace("ё", "е")
    out = []
    for i, ch in enumerate(t):
        cat = unicodedata.category(ch)
        if ch == SLOT_MARK:
            out.append(f" {ch} ")
        elif ch in "'-" and 0 < i < len(t) - 1 and t[i - 1].isalnum() and (t[i + 1].isalnum() or ch == "'"):
            out.append(ch)
        elif cat[0] in "PSZC":
            out.append(" ")
        else:
            out.append(ch)
    t = re.sub(r"\s+", " ", "".join(out)).strip()
    if lang in CJK:
        t = t.replace(" ", "")
    if lang in ("zh", "yue"):
        t = _A_NOT_A.sub(r"\1吗", t)  # 收不收 / 有没有 / 是不是: a question, not a negation
    return t


@dataclass(frozen=True)
class Features:
    """The meaning-deciding content of a sentence."""

    negation: bool = False
    question: bool = False
    sets: tuple[tuple[str, frozenset[str]], ...] = ()  # (class, concepts) for action, object, currency, when, who …

    def get(self, cls: str) -> frozenset[str]:
        for name, values in self.sets:
            if name == cls:
                return values
        return frozenset()

    def describe(self) -> str:
        parts = (["negation"] if self.negation else []) + (["question"] if self.question else [])
        parts += [f"{c}={','.join(sorted(v))}" for c, v in self.sets if v]
        return " ".join(parts) or "—"


@dataclass(frozen=True)
class Reading:
    text: str  # normalised, slots as the slot mark
    key: str  # without filler words: what the fuzzy comparison sees
    features: Features
    words: tuple[tuple[str, str, str], ...] = field(default=())  # (matched text, class, concept)


class Lexicon:
    """One language's critical words, compiled: one pattern per class. Within a class the longest entry wins where
    two overlap; every class is read (取款机 is an ATM and a withdrawal, "us dollars" a currency and "us"), so a word
    and its slip always carry the same classes. `ignore` words are taken out before any class is read."""

    def __init__(self, lang: str, data: dict, *, source: str = "") -> None:
        self.lang = lang
        self.source = source
        self.classes: list[str] = []  # table classes in file order
        self.entries: dict[str, dict[str, str]] = {}  # class → normalised entry → concept ("" for plain lists)
        self.conflicts: list[str] = []  # a word in two concepts of one class
        for cls, value in data.items():
            if isinstance(value, dict):
                self.classes.append(cls)
                for concept, words in value.items():
                    for w in words:
                        self._add(w, cls, concept)
            elif isinstance(value, list):
                for w in value:
                    self._add(w, cls, "")
        for w in IGNORE.get(lang, ()):
            self._add(w, "ignore", "")
        for w in FILLER.get(lang, ()):
            if not any(fold(w, lang) in e for c, e in self.entries.items() if c != "filler"):
                self._add(w, "filler", "")
        self._res: dict[str, re.Pattern[str]] = {}
        self._wild: dict[str, list[tuple[re.Pattern[str], str]]] = {}
        for cls, entries in self.entries.items():
            body = "|".join(self._pattern(w) for w in sorted(entries, key=len, reverse=True))
            self._res[cls] = re.compile(body if lang in CJK else r"(?<![\w'-])(?:" + body + r")(?![\w'-])")
            self._wild[cls] = [(re.compile(self._pattern(w) + "$"), c) for w, c in
                               sorted(entries.items(), key=lambda x: -len(x[0])) if "*" in w or lang == "ar"]

    def _pattern(self, entry: str) -> str:
        if self.lang in CJK:
            return re.escape(entry.rstrip("*"))
        parts = []
        for tok in entry.split(" "):
            parts.append(re.escape(tok[:-1]) + r"[\w'-]*" if tok.endswith("*") and len(tok) > 1 else re.escape(tok))
        pat = r"\s".join(parts)
        return _AR_PROCLITICS + pat if self.lang == "ar" else pat

    def _add(self, word: str, cls: str, concept: str) -> None:
        if any(unicodedata.category(c) == "Sc" for c in word):
            return  # currency symbols are read with their amount (`numbers`), never as words
        if word.startswith("!"):  # "!别的" in negation: read within the class (longest wins), meaning nothing
            word, concept = word[1:], "none"
        norm = fold(word.rstrip("*"), self.lang) + ("*" if word.endswith("*") and self.lang not in CJK else "")
        if not norm.strip("*"):
            return
        entries = self.entries.setdefault(cls, {})
        old = entries.get(norm)
        if old is not None and old != concept:
            self.conflicts.append(f"{word!r} is in {cls}.{old} and {cls}.{concept}")
            return
        entries[norm] = concept

    def _concept(self, cls: str, matched: str) -> str:
        hit = self.entries[cls].get(matched)
        if hit is not None:
            return hit
        return next((c for pat, c in self._wild[cls] if pat.match(matched)), "")

    def read(self, text: str, *, question_mark: bool | None = None) -> Reading:
        """Normalise `text` (already slotted: values replaced by the slot mark) and read its critical features."""
        norm = fold(text, self.lang)
        masked = norm
        if "ignore" in self._res:  # 不错 ("not bad") holds 不 but no negation
            masked = self._res["ignore"].sub(lambda m: "_" * len(m.group()), norm)
        negation = False
        question = any(c in text for c in _QUESTION_MARKS) if question_mark is None else question_mark
        sets: dict[str, set[str]] = {c: set() for c in self.classes}
        words = []
        for cls, pat in self._res.items():
            if cls in ("ignore", "filler"):
                continue
            for m in pat.finditer(masked):
                concept = self._concept(cls, m.group())
                if concept == "none":
                    continue
                words.append((m.group(), cls, concept))
                if cls == "negation":
                    negation = True
                elif cls == "question":
                    question = True
                elif cls in sets and concept:
                    sets[cls].add(concept)
        key = norm
        if "filler" in self._res:  # masking keeps positions: cut the filler words out of the normalised text
            parts, pos = [], 0
            for m in self._res["filler"].finditer(masked):
                parts.append(norm[pos:m.start()])
                pos = m.end()
            key = re.sub(r"\s+", " ", " ".join(parts + [norm[pos:]])).strip()
            if self.lang in CJK:
                key = key.replace(" ", "")
        feats = Features(negation, question, tuple((c, frozenset(v)) for c, v in sets.items()))
        return Reading(norm, key or norm, feats, tuple(words))

