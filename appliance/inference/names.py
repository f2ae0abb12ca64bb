"""Fuzzy name index: transliterated tokens, phonetic and typo-tolerant blocking, then a careful scorer.

A name (and each alias) is folded to A-Z tokens (``appliance.domain.names.fold``: accents
dropped, ICAO transliteration, other scripts through anyascii). Search has two stages:

1. **Candidates, without scoring every name.** Each query token is looked up in the
   token vocabulary three ways: exactly, by its Metaphone key (MUHAMMAD ~ MOHAMMED), and
   by its one-letter deletions against the vocabulary's one-letter deletions (SymSpell:
   finds every token within about two edits, typos and transpositions). Each similar
   vocabulary token brings its posting list (the name rows holding it); a name row
   scores the sum, over query tokens, of its best token similarity weighted by rarity.
   Tokens are matched without regard to which name part they came from, so swapped
   surname and given names, or names split differently, still meet. Only the best
   ``candidates`` rows (a few hundred) go on.
2. **Scoring.** ``compare`` looks at surname and given names as parts, straight and
   swapped, token by token (equal, phonetic match with Jaro-Winkler >= 0.8, close
   spelling by Jaro-Winkler, or different), and says in words what matched.

Phonetic keys are Metaphone and a consonant-class skeleton (``_skeleton``); a phonetic
match also needs Jaro-Winkler >= 0.75, because the keys alone merge names that are not
variants of each other (JANE and JOHN share both).

Files (numpy ``.npy``, memory-mapped, except the vocabulary, read into one sorted byte array):
``vocab.txt``, ``postings.npy`` + ``posting_starts.npy`` (CSR), ``deletes_keys.npy`` +
``deletes_tokens.npy`` and ``phonetic_keys.npy`` + ``phonetic_tokens.npy`` (sorted CRC32
keys), ``row_entry.npy``, ``row_alias.npy``, ``row_text.bin`` + ``row_starts.npy`` (each
row's folded "SURNAME|GIVEN"), ``entry_year.npy`` (birth year or 0).
"""

from __future__ import annotations

import functools
import json
import math
import os
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import jellyfish
import numpy as np
from rapidfuzz.distance import JaroWinkler

from appliance.domain.names import KEY_SEPARATOR, fold
from appliance.domain.reasons import Reason, reason
from appliance.inference.files import save_npy

FORMAT = 1
MIN_DELETE_LENGTH = 4  # shorter tokens have too many one-letter neighbours to be useful keys
PHONETIC_MIN_JW = 0.75  # phonetic keys alone are too coarse (JANE ~ JOHN, JW 0.67); both must agree
CLOSE_JW = 0.85
GIVEN_DIFFERENT = 0.5  # surname matches, given names differ: too weak to hit on its own
TRAVELLER_GIVEN_UNKNOWN = 0.75
LIST_GIVEN_UNKNOWN = 0.8
SWAPPED = 0.85


def tokens(text: str | None) -> list[str]:
    """The A-Z tokens of a name in any script."""
    return fold(text).split()


def _crc(text: str) -> int:
    return zlib.crc32(text.encode("ascii"))


@functools.lru_cache(maxsize=65536)
def _phonetic(token: str) -> str:
    return jellyfish.metaphone(token) or token


_CLASSES = str.maketrans("BFPVCGJKQSXZDTLMNR", "111122222222334556", "AEIOUYHW")


@functools.lru_cache(maxsize=65536)
def _skeleton(token: str) -> str:
    """Consonant classes in order, vowels dropped, repeats merged (Soundex without its
    4-character cut): catches transliteration pairs Metaphone splits, PYOTR ~ PETR,
    YURI ~ IOURI, ALEKSANDR ~ ALEXANDER."""
    head = "A" if token[:1] in "AEIOUYHW" else token[:1].translate(_CLASSES)
    body = token[1:].translate(_CLASSES)
    merged = head
    for char in body:
        if char != merged[-1]:
            merged += char
    return merged


# Latin spellings of Arabic letters that differ between transliteration schemes (French,
# English, ICAO), folded to one letter: KH/H (خ), SH/CH (ش), DJ/J (ج), TH/T (ث), DH/D (ذ),
# GH/G (غ), Q/K (ق), PH/F. Order matters: the digraphs go before their single letters.
_ARABIC_DIGRAPHS = (("KH", "H"), ("SH", "S"), ("CH", "S"), ("DJ", "J"), ("TH", "T"), ("DH", "D"), ("GH", "G"),
                    ("PH", "F"), ("Q", "K"), ("C", "K"))
_ARABIC_VOWELS = str.maketrans("", "", "AEIOUYW")  # W, Y: و and ي written as long vowels as often as not


def _written_without_vowels(token: str) -> bool:
    """True for a token that reads like Arabic (or Hebrew) script folded to Latin: short
    vowels are not written, so at most one vowel letter in five (KHLD, MHMD, LHSN)."""
    return len(token) >= 2 and 5 * sum(token.count(v) for v in "AEIOU") <= len(token)


def _without_article(token: str) -> str:
    """The token without a joined Arabic article: ELHASSAN, ALHASSAN -> HASSAN, and, in a
    token written without vowels, LHSN (ال folded) -> HSN."""
    if len(token) > 4 and token[:2] in ("AL", "EL", "UL"):
        return token[2:]
    if len(token) >= 3 and token[0] == "L" and _written_without_vowels(token):
        return token[1:]
    return token


@functools.lru_cache(maxsize=65536)
def _arabic_key(token: str) -> str:
    """The consonants of a name as Arabic writes them: article dropped, scheme digraphs
    folded, vowels (and W, Y) dropped, doubled letters merged. KHALED, KHALID, HALED and
    the folded Arabic خالد (KHLD) all give HLD; EL HASSAN, ALHASSAN, HASAN and الحسن
    (LHSN) give HSN."""
    # Vowels go first: the folded Arabic has none between D and J where the Latin spells
    # WIDIJATH, so the digraphs are read on the consonants alone, the same way on both sides.
    key = _without_article(token).translate(_ARABIC_VOWELS)
    for spelling, letter in _ARABIC_DIGRAPHS:
        key = key.replace(spelling, letter)
    merged = key[:1]
    for char in key[1:]:
        if char != merged[-1]:
            merged += char
    return merged or token


def _sounds(token: str) -> set[str]:
    """The phonetic keys stored for a vocabulary token."""
    return {"m" + _phonetic(token), "s" + _skeleton(token), "a" + _arabic_key(token)}


def _query_sounds(token: str) -> set[str]:
    """The phonetic keys a query token is looked up by: the Arabic consonant key only for a
    token written without vowels, so Latin queries do not pay for the coarser key."""
    sounds = {"m" + _phonetic(token), "s" + _skeleton(token)}
    if _written_without_vowels(token) or _without_article(token) != token:
        sounds.add("a" + _arabic_key(token))
    return sounds


def _deletions(token: str) -> set[str]:
    if len(token) < MIN_DELETE_LENGTH:
        return {token}
    return {token} | {token[:i] + token[i + 1:] for i in range(len(token))}


# -- Comparing two names -----------------------------------------------------------------

@dataclass(frozen=True)
class PartMatch:
    """How one name part (surname or given names) of the traveller matches the listed one."""

    score: float
    kind: str  # "equal", "phonetic match", "spelling close", "partly equal", "differ"


@functools.lru_cache(maxsize=262144)  # common names meet again and again among candidates
def _token_similarity(a: str, b: str) -> tuple[float, str]:
    if a == b:
        return 1.0, "equal"
    jw = JaroWinkler.similarity(a, b)
    if jw >= PHONETIC_MIN_JW and (_phonetic(a) == _phonetic(b) or _skeleton(a) == _skeleton(b)):
        return max(0.95, jw), "phonetic match"
    if _without_article(a) == _without_article(b):
        return 0.95, "phonetic match"  # ELHASSAN = HASSAN: the article joined or left out
    if (_written_without_vowels(a) or _written_without_vowels(b)) and len(_arabic_key(a)) >= 2 \
            and _arabic_key(a) == _arabic_key(b):
        # Arabic script read against a Latin spelling: the short vowels were never written,
        # so Jaro-Winkler (KHLD ~ KHALED 0.82, MHMD ~ MOHAMED 0.8) says too little; the
        # consonants, folded across schemes, must be the same ones in the same order.
        return 0.9, "phonetic match"
    if jw >= CLOSE_JW:
        return jw, "spelling close"
    return 0.0, "differ"


def compare_part(query: list[str], listed: list[str]) -> PartMatch | None:
    """Similarity of two name parts as token lists; None when either side is empty.

    The shorter side is matched token by token against the longer, so "SAMUEL" against
    the list's "SAMUEL OTIS" (or the other way round) is "partly equal", not "differ".
    """
    if not query or not listed:
        return None
    if "".join(query) == "".join(listed):
        return PartMatch(1.0, "equal")  # same letters split differently: AL RASHID = ALRASHID
    # A separate article (EL HASSAN against الحسن's one token) is no extra name.
    query, listed = _without_articles(query), _without_articles(listed)
    short, long = (query, listed) if len(query) <= len(listed) else (listed, query)
    pairs = [max((_token_similarity(token, other) for other in long), key=lambda pair: pair[0]) for token in short]
    kinds = {kind for _, kind in pairs}
    mean = sum(score for score, _ in pairs) / len(pairs)
    if kinds == {"differ"}:
        joined = JaroWinkler.similarity(" ".join(query), " ".join(listed))
        return PartMatch(joined, "spelling close") if joined >= 0.9 else PartMatch(0.0, "differ")
    if "differ" in kinds:
        return PartMatch(mean, "partly equal")
    extra = len(long) > len(short)
    if kinds == {"equal"}:
        return PartMatch(0.9, "partly equal") if extra else PartMatch(1.0, "equal")
    kind = "spelling close" if "spelling close" in kinds else "phonetic match"
    return PartMatch(mean * (0.9 if extra else 1.0), kind)


def _without_articles(part: list[str]) -> list[str]:
    kept = [token for token in part if token not in ("AL", "EL")]
    return kept or part


@dataclass(frozen=True)
class NameComparison:
    """A name-to-name score in [0, 1] and the words an officer reads for it."""

    score: float
    reason: Reason

    @property
    def evidence(self) -> str:
        return self.reason.text()


def _describe(surname: PartMatch, given: PartMatch | None, swapped: bool, given_note: str) -> Reason:
    if given is None:  # never swapped: a swap pairs two compared parts
        return reason("name.surname_only", surname=surname.kind, note=given_note)
    if swapped:
        if surname.kind == given.kind == "equal":
            return reason("name.equal_swapped")
        return reason("name.swapped", surname=surname.kind, given=given.kind)
    if surname.kind == given.kind == "equal":
        return reason("name.equal")
    return reason("name.parts", surname=surname.kind, given=given.kind)


def compare(query_surname: list[str], query_given: list[str], listed_surname: list[str],
            listed_given: list[str]) -> NameComparison:
    """Score a traveller's name against one listed name (tokens already folded)."""
    options: list[NameComparison] = []
    surname = compare_part(query_surname, listed_surname)
    given = compare_part(query_given, listed_given)
    if surname is not None and surname.score > 0:
        if given is None:
            factor, note = ((LIST_GIVEN_UNKNOWN, "no given names on the list") if not listed_given
                            else (TRAVELLER_GIVEN_UNKNOWN, "traveller's given names not known"))
            options.append(NameComparison(surname.score * factor, _describe(surname, None, False, note)))
        elif given.score > 0:
            options.append(NameComparison(surname.score * given.score, _describe(surname, given, False, "")))
        else:
            options.append(NameComparison(surname.score * GIVEN_DIFFERENT,
                                          reason("name.parts", surname=surname.kind, given="differ")))
    swapped_surname = compare_part(query_surname, listed_given)
    swapped_given = compare_part(query_given, listed_surname)
    if swapped_surname and swapped_given and swapped_surname.score > 0 and swapped_given.score > 0:
        options.append(NameComparison(swapped_surname.score * swapped_given.score * SWAPPED,
                                      _describe(swapped_surname, swapped_given, True, "")))
    every = compare_part(query_surname + query_given, listed_surname + listed_given)
    if every is not None and every.score > 0 and not options:
        # Name parts split or ordered differently (all names written as the surname, say).
        options.append(NameComparison(every.score * SWAPPED, reason("name.reordered", names=every.kind)))
    if not options:
        return NameComparison(0.0, reason("name.differ"))
    return max(options, key=lambda option: option.score)


# -- Building ----------------------------------------------------------------------------

@dataclass(frozen=True)
class NameRow:
    """One indexed name: the entry it belongs to, whether it is an alias, and the name."""

    entry: int
    is_alias: bool
    surname: str
    given_names: str


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def build(directory: Path, rows: Iterable[NameRow], entry_years: np.ndarray,
          progress: Callable[[int], None] | None = None) -> dict:
    """Index ``rows`` into ``directory``; ``entry_years[entry]`` is each entry's birth year (0: unknown).

    Every file is fsynced before it returns. Returns the manifest.
    """
    directory.mkdir(parents=True, exist_ok=True)
    vocab: dict[str, int] = {}
    row_tokens: list[int] = []  # flattened (token id) per row, with row_bounds
    row_bounds = [0]
    row_entry: list[int] = []
    row_alias: list[int] = []
    texts: list[bytes] = []
    for count, row in enumerate(rows, start=1):
        surname, given = fold(row.surname), fold(row.given_names)
        ids = {vocab.setdefault(token, len(vocab)) for token in (surname + " " + given).split()}
        row_tokens.extend(sorted(ids))
        row_bounds.append(len(row_tokens))
        row_entry.append(row.entry)
        row_alias.append(int(row.is_alias))
        texts.append(f"{surname}{KEY_SEPARATOR}{given}\n".encode("ascii"))
        if progress and count % 65536 == 0:
            progress(count)
    n_rows = len(row_entry)
    # Posting lists, in token order (CSR): which rows hold each token.
    token_ids = np.asarray(row_tokens, dtype=np.int32)
    row_of = np.repeat(np.arange(n_rows, dtype=np.int32), np.diff(row_bounds))
    order = np.argsort(token_ids, kind="stable")
    postings = row_of[order]
    starts = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(np.bincount(token_ids, minlength=len(vocab)), out=starts[1:])
    words = [""] * len(vocab)
    for token, number in vocab.items():
        words[number] = token
    delete_keys, delete_tokens, phonetic_keys, phonetic_tokens = [], [], [], []
    for number, token in enumerate(words):
        for variant in _deletions(token):
            delete_keys.append(_crc(variant))
            delete_tokens.append(number)
        for sound in _sounds(token):
            phonetic_keys.append(_crc(sound))
            phonetic_tokens.append(number)
    for name, keys, values in (("deletes", delete_keys, delete_tokens), ("phonetic", phonetic_keys, phonetic_tokens)):
        keys_array = np.asarray(keys, dtype=np.uint32)
        by_key = np.argsort(keys_array, kind="stable")
        save_npy(directory / f"{name}_keys.npy", keys_array[by_key])
        save_npy(directory / f"{name}_tokens.npy", np.asarray(values, dtype=np.int32)[by_key])
    save_npy(directory / "postings.npy", postings)
    save_npy(directory / "posting_starts.npy", starts)
    save_npy(directory / "row_entry.npy", np.asarray(row_entry, dtype=np.int32))
    save_npy(directory / "row_alias.npy", np.asarray(row_alias, dtype=np.int8))
    blob = b"".join(texts)
    _write(directory / "row_text.bin", blob)
    save_npy(directory / "row_starts.npy", np.cumsum([0] + [len(t) for t in texts], dtype=np.int64))
    save_npy(directory / "entry_year.npy", np.asarray(entry_years, dtype=np.int16))
    _write(directory / "vocab.txt", ("\n".join(words) + "\n").encode("ascii") if words else b"")
    manifest = {"format": FORMAT, "kind": "names", "rows": n_rows, "tokens": len(vocab),
                "entries": int(len(entry_years))}
    _write(directory / "names.json", json.dumps(manifest).encode())
    return manifest


# -- Searching ---------------------------------------------------------------------------

@dataclass(frozen=True)
class NameMatch:
    """A listed name close to the query: its entry number, row, score and why."""

    entry: int
    row: int
    is_alias: bool
    listed_name: str  # "SURNAME, GIVEN" as folded
    score: float
    evidence: str
    reason: Reason | None = None  # ``evidence`` as a code with parameters


class NameIndex:
    """An opened name index; ``search`` may be called from several threads."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.manifest = json.loads((self.directory / "names.json").read_text(encoding="utf-8"))
        if self.manifest.get("format") != FORMAT:
            raise ValueError(f"{self.directory} is not a name index of format {FORMAT}")

        def load(name: str) -> np.ndarray:
            return np.load(self.directory / f"{name}.npy", mmap_mode="r")

        # The vocabulary as one fixed-width byte array (token id order) and its sort order, not
        # a dict: 250 000 tokens are about 6 MB so, against about 30 MB as Python strings.
        words = (self.directory / "vocab.txt").read_bytes().split(b"\n")[:-1]
        self.words = np.array(words, dtype=f"S{max((len(w) for w in words), default=1)}")
        del words
        self._by_spelling = np.argsort(self.words, kind="stable").astype(np.int32)
        self._sorted_words = self.words[self._by_spelling]
        self.postings, self.starts = load("postings"), np.array(load("posting_starts"))
        # Mapped, not copied: a lookup's binary search touches a few pages of them.
        self.delete_keys, self.delete_tokens = load("deletes_keys"), load("deletes_tokens")
        self.phonetic_keys, self.phonetic_tokens = load("phonetic_keys"), load("phonetic_tokens")
        self.row_entry, self.row_alias = load("row_entry"), load("row_alias")
        self.row_starts = load("row_starts")
        self.entry_year = load("entry_year")
        self.rows = int(self.manifest["rows"])
        with open(self.directory / "row_text.bin", "rb") as handle:
            self.row_text = np.fromfile(handle, dtype=np.uint8) if self.rows else np.empty(0, np.uint8)
        self._lock = threading.Lock()
        self._accumulator = np.zeros(self.rows, dtype=np.float32)
        self._current = np.zeros(self.rows, dtype=np.float32)

    def row_name(self, row: int) -> tuple[str, str]:
        begin, end = int(self.row_starts[row]), int(self.row_starts[row + 1]) - 1
        surname, _, given = bytes(self.row_text[begin:end]).decode("ascii").partition(KEY_SEPARATOR)
        return surname, given

    def token_id(self, token: str) -> int | None:
        """The vocabulary id of ``token``, None when no listed name has it."""
        spelled = token.encode("ascii", "replace")
        at = int(np.searchsorted(self._sorted_words, spelled))
        if at < len(self._sorted_words) and self._sorted_words[at] == spelled:
            return int(self._by_spelling[at])
        return None

    def word(self, number: int) -> str:
        return self.words[number].decode("ascii")

    def _similar_tokens(self, token: str) -> dict[int, float]:
        """Vocabulary tokens similar to ``token``: id -> token similarity (> 0)."""
        found: set[int] = set()
        number = self.token_id(token)
        if number is not None:
            found.add(number)
        for keys, values, probes in (
            (self.delete_keys, self.delete_tokens, {_crc(v) for v in _deletions(token)}),
            (self.phonetic_keys, self.phonetic_tokens, {_crc(sound) for sound in _query_sounds(token)}),
        ):
            probe = np.fromiter(probes, dtype=np.uint32)
            low = np.searchsorted(keys, probe, side="left")
            high = np.searchsorted(keys, probe, side="right")
            for a, b in zip(low.tolist(), high.tolist()):
                if b > a:
                    found.update(np.asarray(values[a:b]).tolist())
        similar = {}
        for number in found:
            score, _ = _token_similarity(token, self.word(number))
            if score > 0:
                similar[number] = score
        return similar

    def candidates(self, query_tokens: list[str], birth_year: int | None = None, limit: int = 128) -> np.ndarray:
        """Row numbers of the ``limit`` rows sharing the most (and rarest) similar tokens."""
        if not query_tokens or self.rows == 0:
            return np.empty(0, dtype=np.int64)
        touched_all = []
        with self._lock:
            acc, cur = self._accumulator, self._current
            try:
                for token in dict.fromkeys(query_tokens):
                    similar = self._similar_tokens(token)
                    if not similar:
                        continue
                    best = max(similar, key=similar.__getitem__)
                    frequency = int(self.starts[best + 1] - self.starts[best])
                    weight = 1.0 + math.log1p(self.rows / (1 + frequency))
                    touched = []
                    for number, score in sorted(similar.items(), key=lambda item: item[1]):
                        rows = self.postings[self.starts[number]:self.starts[number + 1]]
                        # Ascending similarity: a later (better) token overwrites an earlier one.
                        cur[rows] = score
                        touched.append(rows)
                    rows = np.concatenate(touched)
                    # A row listed twice in ``rows`` is still added once: fancy-index += does
                    # not accumulate repeats, which is what we want (no np.unique sort).
                    acc[rows] += weight * cur[rows]
                    cur[rows] = 0.0
                    touched_all.append(rows)
                if not touched_all:
                    return np.empty(0, dtype=np.int64)
                rows = np.concatenate(touched_all)
                scores = acc[rows]
                acc[rows] = 0.0
            except BaseException:
                acc[:] = 0.0
                cur[:] = 0.0
                raise
        if birth_year:
            # Among equally named rows, prefer those whose entry has the traveller's birth
            # year (or none): the right DOE among ten thousand is not cut before scoring.
            years = np.asarray(self.entry_year[np.asarray(self.row_entry[rows])])
            scores += 0.5 * (years == birth_year) + 0.25 * (years == 0)
        # ``rows`` may repeat a row (once per query token it matched): keep enough, then dedupe.
        keep = limit * len(query_tokens)
        if len(rows) > keep:
            top = np.argpartition(scores, -keep)[-keep:]
            rows, scores = rows[top], scores[top]
        ranked = rows[np.argsort(-scores, kind="stable")]
        _, first = np.unique(ranked, return_index=True)
        return ranked[np.sort(first)][:limit]

    def search(self, surname: str | None, given_names: str | None, *, birth_year: int | None = None,
               limit: int = 10, candidates: int = 128, min_score: float = 0.0) -> list[NameMatch]:
        """The best ``limit`` listed names for a traveller's name (any script), best first."""
        query_surname, query_given = tokens(surname), tokens(given_names)
        rows = self.candidates(query_surname + query_given, birth_year, candidates)
        matches = []
        for row in rows.tolist():
            listed_surname, listed_given = self.row_name(row)
            result = compare(query_surname, query_given, listed_surname.split(), listed_given.split())
            if result.score > 0 and result.score >= min_score:
                listed = f"{listed_surname}, {listed_given}" if listed_given else listed_surname
                matches.append(NameMatch(entry=int(self.row_entry[row]), row=row, is_alias=bool(self.row_alias[row]),
                                         listed_name=listed, score=round(result.score, 4),
                                         evidence=result.evidence, reason=result.reason))
        matches.sort(key=lambda match: (-match.score, match.row))
        return matches[:limit]
