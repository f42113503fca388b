"""The checks of a built paper's text (alnn.report.lint): no sentence of ten words or more said twice,
within a document or between main.pdf and supplement.pdf, and an abstract of at most 250 words.

The rules are tested on strings shaped like pdftotext's output; one test builds two tiny IEEEtran
documents with latexmk to see that compile_paper raises on them (skipped without LaTeX).
"""

from __future__ import annotations

import shutil

import pytest

from alnn.report import lint

#: A sentence of twelve words (and a full stop).
LONG = "The committee of three networks queried the patterns on which its members disagreed most."
OTHER = "Passive learning presents every pattern of the training pool at every epoch of training."


def _words(n: int, start: int = 0) -> str:
    return " ".join(f"word{i}" for i in range(start, start + n))


# --------------------------------------------------------------------------- sentences
def test_a_repeated_sentence_is_caught():
    text = f"{LONG} {OTHER}\n\nIn another section we find it again. {LONG}\n"
    assert lint.repeated_sentences(text) == [(LONG, 2)]
    problems = lint.text_problems(text, name="main.pdf")
    assert len(problems) == 1 and "occurs 2 times" in problems[0] and "main.pdf" in problems[0]


def test_a_sentence_said_once_passes():
    assert lint.repeated_sentences(f"{LONG} {OTHER}") == []
    assert lint.text_problems(f"{LONG} {OTHER}") == []


def test_a_repeat_hyphenated_at_a_line_end_is_caught():
    broken = ("The committee of three networks que-\nried the patterns on which its mem-\n"
              "bers disagreed most.")
    assert lint.repeated_sentences(f"{LONG}\n\n{broken}\n") == [(LONG, 2)]


def test_case_white_space_ligatures_quotes_and_hyphens_do_not_matter():
    variants = [
        "SASLA\u2019s  criterion  selects the patterns whose outputs are most sensitive to Fashion-MNIST inputs.",
        "Sasla's Criterion selects THE patterns whose outputs are most sensitive to FashionMNIST inputs.",
        "SASLA's criterion selects\nthe patterns whose outputs are most sensitive to Fashion-\nMNIST inputs.",
    ]
    assert len(lint.repeated_sentences(" ".join(variants[:2]))) == 1
    assert len(lint.repeated_sentences(variants[0] + "\n\n" + variants[2])) == 1
    fi = "The \ufb01nal criterion is the \ufb01rst one that the draft de\ufb01ned for every problem here."
    assert lint.repeated_sentences(fi + " " + fi.replace("\ufb01", "fi")) == \
        [("The final criterion is the first one that the draft defined for every problem here.", 2)]


def test_short_repeats_are_ignored():
    short = _words(lint.MIN_SENTENCE_WORDS - 1).capitalize() + "."
    assert lint.repeated_sentences(f"{short} {short} {short}") == []
    at_limit = _words(lint.MIN_SENTENCE_WORDS).capitalize() + "."
    assert lint.repeated_sentences(f"{at_limit} {at_limit}") == [(at_limit, 2)]


def test_rows_of_numbers_are_not_sentences():
    row = "0.91 0.92 0.93 0.94 0.95 0.96 0.97 0.98 0.99 1.00 1.01 1.02"
    assert lint.repeated_sentences(f"{row}\n\n{row}\n") == []


def test_a_tables_stub_column_is_not_a_sentence():
    stub = ("Problems N / strategies k Friedman chi2F p of chi2F Smallest attainable p of chi2F "
            "Iman-Davenport FF p of FF Critical difference")
    assert lint.repeated_sentences(f"{stub}\n\n{LONG}\n\n{stub}\n") == []
    assert lint.repeated_sentences(f"{stub}.\n\n{stub}.\n") == [(stub + ".", 2)]  # with a full stop it is one


def test_abbreviations_and_initials_do_not_end_a_sentence():
    text = ("Fig. 3 shows the curves of e.g. entropy sampling, drawn by D. T. Nicolay et al. for every budget. "
            "Eq. 2 gives the rule.")
    assert lint.sentences(text) == [
        "Fig. 3 shows the curves of e.g. entropy sampling, drawn by D. T. Nicolay et al. for every budget.",
        "Eq. 2 gives the rule."]
    assert lint.sentences("It ends here? Yes (it does). And 3 more.") == \
        ["It ends here?", "Yes (it does).", "And 3 more."]


def test_headings_page_numbers_and_captions_stay_apart_from_the_text():
    text = (f"II. BACKGROUND\nA. Passive learning\n{LONG}\n7\n\nTABLE S2\nC ONTROL PARAMETERS\n\n"
            f"Fig. 1. {LONG}\n")
    found = lint.sentences(text)
    assert found.count(LONG) == 2 and "7" not in found
    assert "II. BACKGROUND" in found and "TABLE S2" in found
    assert lint.repeated_sentences(text) == [(LONG, 2)]


def test_a_sentence_shared_with_the_supplement_is_caught():
    main = f"{OTHER} {LONG}"
    supplement = f"The supplement says more.\n{LONG.upper()}\n"
    assert lint.shared_sentences(main, supplement) == [LONG]
    assert lint.shared_sentences(main, "The committee of three networks queried patterns.") == []
    problems = lint.text_problems(main, name="main.pdf", others=[("supplement.pdf", supplement)])
    assert problems == [f'main.pdf: sentence also in supplement.pdf: "{LONG}"']


# --------------------------------------------------------------------------- abstract
def _paper(n: int, index_terms: bool = True) -> str:
    """pdftotext-like text of an IEEEtran paper whose abstract has ``n`` words."""
    body = _words(n)
    # a line-end hyphenation inside the abstract counts as one word
    body = body.replace("word1 word2", "word1 wo-\nrd2") if n > 2 else body
    end = "Index Terms\u2014active learning, sigmoid networks\n\n" if index_terms else ""
    return (f"A Title\nThe alnn project\n\nAbstract\u2014{body} \u2014 ( ) .\n{end}"
            f"I. I NTRODUCTION\nStochastic gradient descent visits every pattern.\n")


def test_words_are_tokens_with_a_letter_or_digit():
    assert lint.words("A 5\u201310 (GSx) \u2014 ( ) t-test 99.2% .") == ["A", "5\u201310", "(GSx)", "t-test", "99.2%"]


def test_abstract_is_found_between_abstract_and_index_terms():
    text = _paper(12)
    assert lint.abstract_text(text).startswith("word0 word1 word2 word3")
    assert "Index" not in lint.abstract_text(text) and "INTRODUCTION" not in lint.abstract_text(text)
    assert lint.abstract_words(text) == 12
    assert lint.abstract_words(_paper(12, index_terms=False)) == 12  # up to the first section heading
    assert lint.abstract_words("No abstract here.") is None


def test_an_abstract_of_251_words_is_caught():
    assert lint.MAX_ABSTRACT_WORDS == 250
    assert lint.abstract_words(_paper(251)) == 251
    problems = lint.text_problems("", name="main.pdf", abstract=_paper(251))
    assert problems == ["main.pdf: the abstract has 251 words, over the limit of 250"]


def test_an_abstract_of_250_words_passes():
    assert lint.abstract_words(_paper(250)) == 250
    assert lint.text_problems(_paper(250), abstract=_paper(250)) == []
    assert lint.text_problems(_paper(251)) == []  # only where asked (main.tex)


def test_a_missing_abstract_is_reported_where_one_is_expected():
    assert "no abstract" in lint.text_problems("Just text.", abstract="Just text.")[0]


# --------------------------------------------------------------------------- numbers in tables
def test_a_number_of_the_text_in_no_table_is_caught(tmp_path):
    """Regression: the text gave the ceiling's median (0.0141) and a fit (90.5%) that no table printed."""
    (tmp_path / "budget.tex").write_text(
        "% generated\n\\alnnset{budget/rule}{every round takes 2.5 epochs}\n"
        "\\alnnset{text/budget-plateau}{The median is 0.0141 and the line's error "
        "$1/2-3/\\pi^2+\\sigma^2=0.206$; 1{,}980 networks, 94.2\\% of them.}\n")
    (tmp_path / "budget-training.tex").write_text("\\begin{tabular}{lr} Sine & 1{,}980.0 & 94.2 \\\\ \\end{tabular}\n")
    problems = lint.generated_problems(tmp_path)
    assert problems == ["budget.tex:text/budget-plateau: 0.0141 in the text but in no table"]
    # math (a derivation), counts, settings (a macro that is no sentence) are not checked; a table passes it
    (tmp_path / "budget-training.tex").write_text("\\begin{tabular}{lr} Sine & 0.0141 & 94.2 \\\\ \\end{tabular}\n")
    assert lint.generated_problems(tmp_path) == []


def test_decimals_are_read_as_printed():
    assert lint.decimals("a 1{,}234.5 b $0.206$ c 94.2\\% d 3 e v1.2") == {"1,234.5", "94.2"}
    assert lint.decimals("$0.206$", math=True) == {"0.206"}


# --------------------------------------------------------------------------- through compile_paper
IEEE = r"""\documentclass[conference]{IEEEtran}
\begin{document}
\title{A Test}
\maketitle
\begin{abstract}
%s
\end{abstract}
\section{Introduction}
%s
\end{document}
"""


@pytest.mark.skipif(not all(shutil.which(t) for t in ("latexmk", "pdftotext")),
                    reason="latexmk and pdftotext are needed")
def test_compile_paper_raises_on_a_repeat_and_a_long_abstract(tmp_path):
    from alnn.report.latex import LatexError, compile_paper

    paper = tmp_path / "paper"
    paper.mkdir()
    (paper / "main.tex").write_text(IEEE % (_words(40) + ".", f"{OTHER} {LONG}"))
    assert compile_paper(paper, tmp_path, tmp_path, outdir=tmp_path / "ok").is_file()

    (paper / "main.tex").write_text(IEEE % (_words(40) + ".", f"{LONG} {OTHER}\n\n{LONG}"))
    with pytest.raises(LatexError, match="occurs 2 times"):
        compile_paper(paper, tmp_path, tmp_path, outdir=tmp_path / "repeat")
    assert compile_paper(paper, tmp_path, tmp_path, outdir=tmp_path / "repeat", check=False).is_file()

    (paper / "main.tex").write_text(IEEE % (_words(251) + ".", OTHER))
    with pytest.raises(LatexError, match="251 words"):
        compile_paper(paper, tmp_path, tmp_path, outdir=tmp_path / "long")


def test_a_figures_labels_and_counts_are_not_a_sentence():
    row = "50/50 Entropy 50/50 Committee 50/50 Random 50/50 Sensitivity 50/50 Margin 50/50 Least confidence 50/50 BALD"
    assert lint.repeated_sentences(f"{row}\n\n{row}\n") == []
