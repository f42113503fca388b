r"""Checks of a built paper's text: no sentence said twice, and an abstract of at most 250 words.

:func:`alnn.report.latex.compile_paper` runs these on the PDF it has just built
(with ``check``), reading its text with ``pdftotext``; the functions here work on
that text, as strings, so that they can be tested without LaTeX.

The rules, kept simple on purpose:

* **Text.** ``pdftotext`` (its default, column-aware layout) gives the text.
  :func:`clean_text` applies Unicode NFKC (which undoes the ligatures ``ﬁ``,
  ``ﬂ``, ``ﬀ``...), straightens curly quotes, drops lines that are only a page
  number, and joins a word hyphenated at a line end (``incre-`` / ``mental``:
  the hyphen dropped before a lower-case letter, kept otherwise, as in
  ``Fashion-`` / ``MNIST``; a dash at a line end, ``5–`` / ``10``, is joined too).
* **Sentences.** :func:`sentences` cuts the text at ``.``, ``?`` or ``!``
  (and any closing bracket or quote after it) followed by white space and an
  upper-case letter, a digit or an opening bracket or quote, unless the word
  before the stop is an abbreviation (:data:`ABBREVIATIONS`, such as ``Fig.``,
  ``e.g.``, ``et al.``) or a single letter (an initial, ``D. T. Nicolay``).
  A blank line (``pdftotext`` separates blocks of text: paragraphs,
  captions, table cells, columns) and a heading line (``II. BACKGROUND``,
  ``A. Passive learning``, ``S3. CONTROL PARAMETERS``, ``TABLE S2``) also end
  a sentence, so that a heading or a table does not glue itself to the text
  around it. A block with no ``.``, ``?`` or ``!`` at all is no sentence: it
  is a table's stub column (the row labels of two tables of the same layout
  may well agree) or a figure's labels.
* **Words.** A word is a white-space-separated token that contains a letter
  or a digit (:func:`words`); a sentence counts for the repetition check
  when it has at least :data:`MIN_SENTENCE_WORDS` tokens that contain a
  letter and at most a third of its tokens have none (rows of numbers from
  tables and a figure's labels and counts do not count).
* **Same sentence.** Two sentences are the same when their keys are equal
  (:func:`sentence_key`): the text, case-folded, with everything but letters
  and digits removed. So white space, case, punctuation and hyphens do not
  matter (``Fashion-MNIST``, ``FashionMNIST`` and ``Fashion- MNIST`` are one
  word), and neither does small-caps text that ``pdftotext`` spaces oddly.
* **Abstract.** IEEEtran prints ``Abstract—`` before the abstract and
  ``Index Terms—`` after it (the keywords); :func:`abstract_text` takes what
  lies between, or up to the first section heading when there are no index
  terms. It reads the text in the order of the PDF's content stream
  (``pdftotext -raw``), since the column-aware layout may put the index
  terms, or the introduction, before the abstract.
  :data:`MAX_ABSTRACT_WORDS` is the limit (IEEE's).
* **Numbers.** A measured value that a sentence states is printed in a table
  too (SPEC 8). :func:`untabled_numbers` reads the generated files: every
  number with decimals (``0.0276``, ``94.2``, ``1.5``) in a generated sentence
  (a macro ``text/...``), math (``$...$``: a formula's derivation) left out,
  appears in some generated table (a generated file that sets no macro).
  Counts and settings (integers) are not checked.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

#: A sentence with fewer words (tokens with a letter) than this may repeat (short phrases,
#: headings, "Fig. S1."); from this length on a repeat is an error.
MIN_SENTENCE_WORDS = 10

#: IEEE's limit on the abstract, in words (:func:`words`).
MAX_ABSTRACT_WORDS = 250

#: Words whose trailing full stop does not end a sentence (compared in lower case, without the stop).
ABBREVIATIONS = frozenset({
    "fig", "figs", "eq", "eqs", "tab", "sec", "secs", "no", "nos", "ref", "refs", "vs", "cf", "e.g",
    "i.e", "al", "etc", "approx", "resp", "viz", "ch", "pp", "p", "vol", "dr", "prof", "st", "ca",
})

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"',
                         "\u201e": '"', "\u00ad": None})

#: A line that is a heading of its own: ``II. BACKGROUND``, ``A. Passive learning``,
#: ``S3. C ONTROL PARAMETERS``, ``TABLE S2``, ``R EFERENCES``, ``Index Terms—...`` is not one.
_HEADING = re.compile(
    r"^\s*(?:(?:[IVXL]+|S\d+|[A-Z]|S?\d+(?:\.\d+)*)\.\s+[^.?!]{1,80}"
    r"|TABLE\s+S?[IVXL\d]+|A\s?PPENDIX.*|R\s?EFERENCES|A\s?CKNOWLEDGMENTS?)\s*$")

_PAGE_NUMBER = re.compile(r"^\s*(?:S?\d{1,3}|page \d+( of \d+)?)\s*$", re.I)

_SPLIT = re.compile(r"[.?!][)\]'\"]*\s+(?=[A-Z0-9(\['\"])")


def pdf_text(pdf, *, raw: bool = False) -> str:
    """The text of a PDF, by ``pdftotext`` (UTF-8; its default, column-aware layout, or with ``raw``
    the order of the content stream)."""
    if shutil.which("pdftotext") is None:
        raise FileNotFoundError("pdftotext not found: install poppler-utils")
    return subprocess.run(["pdftotext", "-enc", "UTF-8", *(["-raw"] if raw else []), str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout


def clean_text(text: str) -> str:
    """``text`` with ligatures and curly quotes undone, page-number lines dropped and words hyphenated at a
    line end joined; lines (and blank lines) kept."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).replace("\f", "\n\n")
    lines = [line.rstrip() for line in text.splitlines() if not _PAGE_NUMBER.match(line)]
    text = "\n".join(lines)
    # "incre-\nmental" -> "incremental" (a letter before the hyphen, a lower-case letter after it);
    # "Fashion-\nMNIST" -> "Fashion-MNIST" and "5–\n10" -> "5–10" (a hyphen or dash that LaTeX broke the
    # line after, kept).
    text = re.sub(r"(?<=[^\W\d_])-\n[ \t]*(?=[a-z])", "", text)
    return re.sub(r"(?<=\w)([-–—])\n[ \t]*(?=\w)", r"\1", text)


def _blocks(text: str) -> list[tuple[str, bool]]:
    """``(text, heading)``: runs of lines that no blank line or heading line interrupts, each on one
    line, and the heading lines."""
    out: list[tuple[str, bool]] = []
    current: list[str] = []
    for line in text.splitlines():
        if not line.strip() or _HEADING.match(line):
            if current:
                out.append((" ".join(current), False))
            current = []
            if line.strip():
                out.append((line.strip(), True))
        else:
            current.append(line.strip())
    if current:
        out.append((" ".join(current), False))
    return [(re.sub(r"\s+", " ", block).strip(), heading) for block, heading in out]


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (raw ``pdftotext`` output), white space collapsed (rules: module docstring)."""
    out = []
    for block, heading in _blocks(clean_text(text)):
        if heading:  # a sentence of its own, whatever full stops it has ("II. BACKGROUND")
            out.append(block)
            continue
        if not re.search(r"[.?!]", block):  # a table's stub column, a figure's labels: no sentence ends here
            continue
        start = 0
        for m in _SPLIT.finditer(block):
            before = block[start:m.start()].split()
            last = before[-1].lower().lstrip("([") if before else ""
            if last in ABBREVIATIONS or (len(last) == 1 and last.isalpha()):
                continue
            out.append(block[start:m.end()].strip())
            start = m.end()
        if block[start:].strip():
            out.append(block[start:].strip())
    return out


def words(text: str) -> list[str]:
    """White-space-separated tokens that contain a letter or a digit."""
    return [token for token in text.split() if any(c.isalnum() for c in token)]


def _long(sentence: str, min_words: int) -> bool:
    """Prose of at least ``min_words`` words: a run of tokens of which more than a third have no letter
    (a table's row, a figure's labels and counts) is not a sentence."""
    tokens = sentence.split()
    lettered = sum(any(c.isalpha() for c in token) for token in tokens)
    return lettered >= min_words and 3 * (len(tokens) - lettered) <= len(tokens)


def sentence_key(sentence: str) -> str:
    """What two sentences must share to be the same: letters and digits only, case-folded."""
    return re.sub(r"[\W_]", "", unicodedata.normalize("NFKC", sentence).casefold())


def repeated_sentences(text: str, min_words: int = MIN_SENTENCE_WORDS) -> list[tuple[str, int]]:
    """``(sentence, times)`` of every sentence of at least ``min_words`` words that ``text`` has more
    than once, in the order of first occurrence."""
    found = [s for s in sentences(text) if _long(s, min_words)]
    counts = Counter(sentence_key(s) for s in found)
    out, seen = [], set()
    for s in found:
        key = sentence_key(s)
        if counts[key] > 1 and key not in seen:
            seen.add(key)
            out.append((s, counts[key]))
    return out


def shared_sentences(text: str, other: str, min_words: int = MIN_SENTENCE_WORDS) -> list[str]:
    """Sentences of at least ``min_words`` words that both ``text`` and ``other`` have, in ``text``'s
    order."""
    theirs = {sentence_key(s) for s in sentences(other) if _long(s, min_words)}
    out, seen = [], set()
    for s in sentences(text):
        key = sentence_key(s)
        if key in theirs and key not in seen and _long(s, min_words):
            seen.add(key)
            out.append(s)
    return out


_ABSTRACT = re.compile(r"\bA\s?BSTRACT\s*[\u2014\u2013-]+\s*|\bAbstract\s*[\u2014\u2013-]+\s*")
_INDEX_TERMS = re.compile(r"\bIndex\s+Terms\s*[\u2014\u2013-]|\bI\s?NDEX\s+T\s?ERMS\s*[\u2014\u2013-]")
_SECTION = re.compile(r"^\s*I\.\s+[A-Z]", re.M)


def abstract_text(text: str) -> str | None:
    """The abstract of ``text`` (raw ``pdftotext`` output of an IEEEtran paper): what lies between
    ``Abstract—`` and ``Index Terms—`` (or the first section heading); None when there is no
    ``Abstract—``. White space collapsed, hyphenation at line ends undone."""
    text = clean_text(text)
    start = _ABSTRACT.search(text)
    if start is None:
        return None
    rest = text[start.end():]
    ends = [m.start() for m in (_INDEX_TERMS.search(rest), _SECTION.search(rest)) if m is not None]
    body = rest[:min(ends)] if ends else rest
    return re.sub(r"\s+", " ", body).strip()


def abstract_words(text: str) -> int | None:
    """The number of words (:func:`words`) of the abstract of ``text``; None without an abstract."""
    abstract = abstract_text(text)
    return None if abstract is None else len(words(abstract))


# --------------------------------------------------------------------------- the checks
def _quote(sentence: str, width: int = 400) -> str:
    return sentence if len(sentence) <= width else sentence[:width - 3] + "..."


def text_problems(text: str, *, name: str = "the document", others: Iterable[tuple[str, str]] = (),
                  abstract: str | None = None, min_words: int = MIN_SENTENCE_WORDS,
                  max_abstract_words: int = MAX_ABSTRACT_WORDS) -> list[str]:
    """What is wrong with a document's text ``text``, one message each (none: it passes).

    Every sentence of at least ``min_words`` words that occurs more than once
    in ``text``; every such sentence that ``text`` shares with one of
    ``others`` (``(name, text)`` pairs); with ``abstract`` (the document's
    text in which to look for the abstract: ``pdftotext -raw``'s, see the
    module's docstring), an abstract over ``max_abstract_words`` words, or none
    found.
    """
    problems = []
    for sentence, times in repeated_sentences(text, min_words):
        problems.append(f"{name}: sentence occurs {times} times: \"{_quote(sentence)}\"")
    for other_name, other_text in others:
        for sentence in shared_sentences(text, other_text, min_words):
            problems.append(f"{name}: sentence also in {other_name}: \"{_quote(sentence)}\"")
    if abstract is not None:
        n = abstract_words(abstract)
        if n is None:
            problems.append(f"{name}: no abstract found (no \"Abstract—\" in its text)")
        elif n > max_abstract_words:
            problems.append(f"{name}: the abstract has {n} words, over the limit of {max_abstract_words}")
    return problems


#: A number with decimals (thousands grouped by ``,`` or LaTeX's ``{,}``).
_DECIMAL = re.compile(r"(?<![\w.])\d[\d,]*\.\d+")
_MACRO = re.compile(r"^\\alnnset\{([^}]*)\}\{(.*)\}\s*$", re.M)


def decimals(tex: str, *, math: bool = False) -> set[str]:
    """The numbers with decimals in LaTeX text, as printed (``{,}`` read as ``,``); without ``math``, those
    between ``$`` signs left out."""
    tex = tex.replace("{,}", ",")
    if not math:
        tex = re.sub(r"\$[^$]*\$", " ", tex)
    return set(_DECIMAL.findall(tex))


def untabled_numbers(sentences: Mapping[str, str], tables: Iterable[str]) -> list[str]:
    """One message per generated sentence (``{macro: text}``) that states a number with decimals that no
    table (``tables``: their LaTeX) prints."""
    printed = set().union(*(decimals(t, math=True) for t in tables))
    out = []
    for key, text in sentences.items():
        missing = sorted(decimals(text) - printed)
        if missing:
            out.append(f"{key}: {', '.join(missing)} in the text but in no table")
    return out


def generated_problems(generated_dir) -> list[str]:
    """:func:`untabled_numbers` of a folder of generated files: its sentences are the ``text/`` macros of the
    files that set macros, its tables the files that set none."""
    sentences, tables = {}, []
    for path in sorted(Path(generated_dir).glob("*.tex")):
        body = path.read_text(errors="replace")
        macros = _MACRO.findall(body)
        if macros:
            sentences.update({f"{path.name}:{k}": v for k, v in macros if k.startswith("text/")})
        else:
            tables.append(body)
    return untabled_numbers(sentences, tables)


def pdf_problems(pdf, *, others: Sequence = (), abstract: bool = False) -> list[str]:
    """:func:`text_problems` of a PDF, compared with the PDFs ``others`` (each read with ``pdftotext``);
    with ``abstract``, its abstract checked too."""
    pdf = Path(pdf)
    return text_problems(pdf_text(pdf), name=pdf.name,
                         others=[(Path(o).name, pdf_text(o)) for o in others],
                         abstract=pdf_text(pdf, raw=True) if abstract else None)
