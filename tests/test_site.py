"""The index page of one profile's reports (alnn.site, `alnn reports`): links, tables, figures, a real browser."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from alnn import site
from alnn.cli import main

ROOT = Path(__file__).resolve().parents[1]
PROFILE = "smoke"
EPOCH = int(datetime(2026, 11, 17, 8, 0, tzinfo=timezone.utc).timestamp())  # SOURCE_DATE_EPOCH of the page
MAIN_FIGS = {"budget-curves": 31, "learning-curves-epochs": 32, "penalty-matrix": 33, "cd-classification": 34}
NB_FIGS = {"problem-iris": {"grid-iris": 21, "budget-iris": 22},
           "strategy-sasla": {"curves-sasla": 23, "subset-sasla": 24}}


# --------------------------------------------------------------------------- a fake profile
def png(width: int, height: int = 9) -> bytes:
    """A tiny opaque RGB PNG."""
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    raw = b"".join(b"\x00" + b"\x20\x60\xc0" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def png_width(path: Path) -> int:
    return struct.unpack(">I", path.read_bytes()[16:20])[0]


def write_csv(path: Path, header: str, rows: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")


def write_notebook(path: Path, params: dict) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    cell = new_code_cell("1 + 1", outputs=[new_output("execute_result", {"text/plain": "2"}, execution_count=1)])
    nb = new_notebook(cells=[cell])
    nb.metadata["papermill"] = {"parameters": params, "end_time": "2026-11-16T10:30:00+00:00", "duration": 12.5}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A repository-like folder with one profile's analysis outputs and executed notebooks; cwd is its root."""
    gen, fig, rp = tmp_path / "paper/generated" / PROFILE, tmp_path / "figures" / PROFILE, tmp_path / "reports" / PROFILE
    write_csv(gen / "summary.csv", "dataset,strategy,metric,mean,std,median,n,n_runs,n_diverged", [
        "iris,passive,accuracy,0.9,0.05,0.9,4,4,0", "iris,sasla,accuracy,0.93,0.012,0.93,4,4,0",
        "iris,entropy,accuracy,0.8,0.1,0.8,4,4,0", "iris,passive,mse,0.1,0.01,0.1,4,4,0",
        "sine,passive,mse,0.0123,0.002,0.012,4,4,0", "sine,sasla,mse,0.0456,0.003,0.045,4,4,0"])
    write_csv(gen / "within.csv", "dataset,metric,higher_is_better,strategy,baseline,n_pairs,n_excluded,mean_strategy,"
              "mean_baseline,mean_diff,ci_low,ci_high,t,df,p,p_holm,significant,direction,prob_superiority", [
                  "iris,accuracy,True,sasla,passive,4,0,0.93,0.9,0.03,0.01,0.05,3,3,0.01,0.02,True,better,0.9",
                  "iris,accuracy,True,entropy,passive,4,0,0.8,0.9,-0.1,-0.2,0.0,-2,3,0.2,0.4,False,worse,0.2",
                  "sine,mse,False,sasla,passive,4,0,0.0456,0.0123,0.03,0.02,0.04,5,3,0.001,0.002,True,worse,0.1"])
    write_csv(gen / "budget-aubc.csv", "dataset,strategy,metric,mean,std,median,n,n_runs,n_diverged", [
        "iris,entropy,accuracy,0.71,0.02,0.71,4,4,0", "iris,random,accuracy,0.65,0.03,0.65,4,4,0"])
    write_csv(gen / "budget-tests.csv", "dataset,quantity,budget,metric,higher_is_better,strategy,baseline,n_pairs,"
              "n_excluded,mean_strategy,mean_baseline,mean_diff,ci_low,ci_high,t,df,p,p_holm,significant,direction,"
              "prob_superiority", [
                  "iris,aubc,,accuracy,True,entropy,random,4,0,0.71,0.65,0.06,0.01,0.1,3,3,0.01,0.03,True,better,0.9",
                  "iris,budget,10.0,accuracy,True,entropy,random,4,0,0.7,0.6,0.1,0.05,0.15,4,3,0.01,0.02,True,better,1",
                  "iris,budget,20.0,accuracy,True,entropy,random,4,0,0.7,0.7,0,-.1,.1,0,3,1,1,False,equal,0.5"])
    write_csv(gen / "across.csv", "task,strategy,avg_rank,z,p,p_holm,significant,f_id,p_f,cd", [
        "classification,passive,1.5,,,,,4.4,0.021,4.35", "classification,sasla,1.5,0,1,1,False,4.4,0.021,4.35"])
    (gen / "comparison.tex").write_text("% not shown\n")
    fig.mkdir(parents=True)
    for name, width in MAIN_FIGS.items():
        (fig / f"{name}.png").write_bytes(png(width))
        (fig / f"{name}.pdf").write_bytes(b"%PDF-1.4\n")  # the paper's copy: not shown
    (rp / "figures").mkdir(parents=True)
    for figs in NB_FIGS.values():
        for name, width in figs.items():
            (rp / "figures" / f"{name}.png").write_bytes(png(width))
    rel = lambda p: p.relative_to(tmp_path).as_posix()  # noqa: E731  (papermill records paths from the root)
    write_notebook(rp / "analysis.ipynb", {"profile": PROFILE, "results": f"results/{PROFILE}",
                                           "generated": rel(gen), "figures": rel(fig)})
    write_notebook(rp / "problem-iris.ipynb", {"profile": PROFILE, "problem": "iris",
                                               "heatmap": f"reports/{PROFILE}/figures/grid-iris.png",
                                               "budget_curves": f"reports/{PROFILE}/figures/budget-iris.png"})
    write_notebook(rp / "strategy-sasla.ipynb", {"profile": PROFILE, "strategy": "sasla",
                                                 "curves": f"reports/{PROFILE}/figures/curves-sasla.png",
                                                 "subset": f"reports/{PROFILE}/figures/subset-sasla.png"})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
    notebooks = [f"reports/{PROFILE}/{n}.ipynb" for n in ("problem-iris", "strategy-sasla", "analysis")]
    return {"root": tmp_path, "rp": rp, "gen": gen, "fig": fig, "notebooks": notebooks,
            "index": rp / "index.html"}


def run_reports(fake, *extra) -> Path:
    """`alnn reports` as the Makefile runs it."""
    argv = ["reports", "--profile", PROFILE, "--index", f"reports/{PROFILE}/index.html", *extra, *fake["notebooks"]]
    assert main(argv) == 0
    return fake["index"]


MAKE_ARGS = ("--generated", f"paper/generated/{PROFILE}", "--figures", f"figures/{PROFILE}")


# --------------------------------------------------------------------------- parsing
class Page(HTMLParser):
    """Links, images (with their attributes), figure -> link targets, and text of a page."""

    def __init__(self, text: str):
        super().__init__()
        self.links, self.images, self.text, self.tables, self.ids = [], [], [], [], set()
        self.figure_links: dict[str, list[str]] = {}
        self._figure = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "figure":
            self._figure = a.get("id")
            self.figure_links[self._figure] = []
        if tag == "table":
            self.tables.append(a.get("class", ""))
        if "href" in a:
            self.links.append(a["href"])
            if self._figure:
                self.figure_links[self._figure].append(a["href"])
        if tag == "img":
            self.images.append(a)
        elif "src" in a:
            self.links.append(a["src"])

    def handle_endtag(self, tag):
        if tag == "figure":
            self._figure = None

    def handle_data(self, data):
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def target(index: Path, url: str) -> Path:
    parts = urlsplit(url)
    assert not parts.scheme and not parts.netloc and not url.startswith("/"), f"not a relative link: {url}"
    return (index.parent / unquote(parts.path)).resolve()


def check_resolves(index: Path, inside: Path) -> Page:
    """Every href and src of the page resolves to an existing file below ``inside``."""
    page = Page(index.read_text(encoding="utf-8"))
    urls = page.links + [img["src"] for img in page.images]
    assert urls
    for url in urls:
        if url.startswith("#"):
            assert url[1:] in page.ids, f"anchor {url} has no target"
            continue
        path = target(index, url)
        assert path.is_file(), f"{url} does not resolve ({path})"
        assert path.is_relative_to(inside.resolve()), f"{url} leaves {inside}"
    return page


# --------------------------------------------------------------------------- tests
def test_index_links_and_images_resolve_and_it_opens_on_the_headline(fake):
    from alnn import config as C

    index = run_reports(fake, *MAKE_ARGS)
    page = check_resolves(index, fake["root"] / "reports")
    text = page.all_text
    assert f"profile {PROFILE}" in text and C.load_profile(PROFILE).description in text
    assert "Page built 2026-11-17 08:00 UTC" in text and "2026-11-16 10:30 UTC" in text  # built (SOURCE_DATE_EPOCH), analysis executed
    # the tables come before the figures and the list of notebooks
    html_text = index.read_text()
    assert html_text.index("class='comparison'") < html_text.index("id='figures'") < html_text.index("id='notebooks'")
    assert {"comparison", "budget", "across"} <= set(page.tables)
    assert "90.0 ± 5.0" in text and "93.0 ± 1.2" in text and "0.0123 ± 0.002" in text  # accuracy in %, MSE as is
    assert "71.0 ± 2.0" in text and "1▲ 0▼ of 2" in text
    assert "<td class='best'>93.0 &plusmn; 1.2" in html_text and "<td class='best'>0.0123" in html_text
    assert html_text.count('class="up"') == 2 and html_text.count('class="down"') == 1  # sasla/entropy, sine sasla
    # every figure shown, once; the PDFs and the .tex files are not
    srcs = [Path(img["src"]).stem for img in page.images]
    assert sorted(srcs) == sorted([*MAIN_FIGS, *NB_FIGS["problem-iris"], *NB_FIGS["strategy-sasla"]])
    assert srcs[:len(MAIN_FIGS)] == list(MAIN_FIGS)  # in the order of site.MAIN_FIGURES
    assert not any(link.endswith((".pdf", ".tex")) for link in page.links)
    # the analysis files are copied into site/; the notebooks' own figures are linked in place
    assert all(img["src"].startswith(("site/figures/", "figures/")) for img in page.images)
    assert (fake["rp"] / "site/tables/summary.csv").read_bytes() == (fake["gen"] / "summary.csv").read_bytes()
    # every executed notebook, HTML and .ipynb
    for nb in fake["notebooks"]:
        name = Path(nb).name
        assert name in page.links and name.replace(".ipynb", ".html") in page.links
    assert not list(fake["root"].rglob("*.tmp"))


def test_every_figure_and_table_links_to_the_notebook_that_made_it(fake):
    page = check_resolves(run_reports(fake, *MAKE_ARGS), fake["root"] / "reports")
    made_by = {f"fig-{n}": "analysis" for n in MAIN_FIGS}
    made_by.update({f"fig-{f}": nb for nb, figs in NB_FIGS.items() for f in figs})
    assert set(page.figure_links) == set(made_by)
    for fig, nb in made_by.items():
        links = page.figure_links[fig]
        assert links[0] == f"{nb}.html", (fig, links)  # the image itself opens the notebook
        assert f"{nb}.ipynb" in links
        others = {n for n in ("analysis", *NB_FIGS)} - {nb}
        assert not any(link.startswith(tuple(f"{o}." for o in others)) for link in links)
    html_text = fake["index"].read_text()
    for section in ("comparison", "budget", "ranks"):
        body = html_text.split(f"<section id='{section}'>", 1)[1].split("</section>", 1)[0]
        assert 'href="analysis.html"' in body and 'href="analysis.ipynb"' in body, section


def test_the_analysis_folders_default_to_the_notebooks_parameters(fake):
    """Without --generated/--figures the page finds them through the analysis notebook's papermill parameters."""
    with_args = run_reports(fake, *MAKE_ARGS).read_text()
    without = run_reports(fake).read_text()
    assert without == with_args


def test_reports_browsed_alone_keep_every_link(fake, tmp_path_factory):
    run_reports(fake, *MAKE_ARGS)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    shutil.copytree(fake["root"] / "reports", elsewhere / "reports")
    shutil.rmtree(fake["root"] / "reports")
    shutil.rmtree(fake["root"] / "figures")
    shutil.rmtree(fake["root"] / "paper")
    page = check_resolves(elsewhere / "reports" / PROFILE / "index.html", elsewhere / "reports")
    assert len(page.images) == len(MAIN_FIGS) + sum(map(len, NB_FIGS.values()))


def test_a_rewrite_drops_copies_the_page_no_longer_shows(fake):
    run_reports(fake, *MAKE_ARGS)
    assert (fake["rp"] / "site/figures/penalty-matrix.png").is_file()
    (fake["fig"] / "penalty-matrix.png").unlink()
    (fake["fig"] / "budget-curves.png").write_bytes(png(77))
    page = check_resolves(run_reports(fake, *MAKE_ARGS), fake["root"] / "reports")
    assert not (fake["rp"] / "site/figures/penalty-matrix.png").exists()
    assert "penalty-matrix" not in [Path(i["src"]).stem for i in page.images]
    assert png_width(fake["rp"] / "site/figures/budget-curves.png") == 77
    assert (fake["rp"] / "figures/grid-iris.png").is_file()  # a notebook's own figure is never touched


def test_without_analysis_outputs_the_page_still_lists_every_notebook(fake):
    shutil.rmtree(fake["gen"])
    shutil.rmtree(fake["fig"])
    page = check_resolves(run_reports(fake, *MAKE_ARGS), fake["root"] / "reports")
    assert "No tables" in page.all_text and not page.tables
    assert {Path(i["src"]).stem for i in page.images} == {f for figs in NB_FIGS.values() for f in figs}
    assert "analysis.html" in page.links


def test_the_default_date_is_now(fake, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    before = datetime.now(timezone.utc)
    text = Page(run_reports(fake, *MAKE_ARGS).read_text()).all_text
    assert f"Page built {before:%Y-%m-%d}" in text or f"Page built {datetime.now(timezone.utc):%Y-%m-%d}" in text
    assert site.build_date().tzinfo is not None


def test_make_reports_passes_the_analysis_folders_and_make_test_needs_chromium():
    def dry(*args):
        proc = subprocess.run(["make", "--no-print-directory", "-n", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout
    line = next(x for x in dry("-B", "reports", f"PROFILE={PROFILE}").splitlines()
                if " reports --profile" in x and "--index" in x)
    assert f"--generated paper/generated/{PROFILE} --figures figures/{PROFILE}" in line
    assert "command -v chromium" in dry("test")


# --------------------------------------------------------------------------- a real browser
CHECK_SCRIPT = """<script>
addEventListener('load', function () {
  for (const img of document.images) img.setAttribute('data-natural-width', img.naturalWidth);
  const t = document.querySelector('table.comparison');
  document.body.setAttribute('data-table-height', t ? t.offsetHeight : 0);
  document.body.setAttribute('data-loaded', 'yes');
});
</script>"""


def chromium() -> str:
    """/usr/bin/chromium; as root on Debian it is installed (`make chromium`), elsewhere its absence skips."""
    exe = shutil.which("chromium") or ("/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None)
    if exe:
        return exe
    if not (os.geteuid() == 0 and Path("/etc/debian_version").is_file() and shutil.which("apt-get")):
        pytest.skip("headless Chromium is not installed (Debian/Ubuntu: apt-get install chromium chromium-driver, "
                    "or `make chromium` as root) and this machine is not root on Debian, so it cannot be installed")
    proc = subprocess.run(["make", "--no-print-directory", "chromium"], cwd=ROOT, capture_output=True, text=True,
                          timeout=1800)
    exe = shutil.which("chromium")
    assert proc.returncode == 0 and exe, f"`make chromium` did not install Chromium:\n{proc.stdout}\n{proc.stderr}"
    return exe


def test_the_page_shows_its_figures_in_headless_chromium(fake, tmp_path_factory):
    exe = chromium()
    index = run_reports(fake, *MAKE_ARGS)
    # a copy beside the page (same relative links) with a script that records what loaded
    check = index.with_name("index.check.html")
    check.write_text(index.read_text().replace("</body>", CHECK_SCRIPT + "</body>"))
    profile_dir = tmp_path_factory.mktemp("chromium-profile")
    proc = subprocess.run(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile_dir}", "--window-size=1280,2000", "--dump-dom", check.resolve().as_uri()],
        capture_output=True, text=True, timeout=180, env={**os.environ, "HOME": str(profile_dir)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    dom = Page(proc.stdout)
    assert 'data-loaded="yes"' in proc.stdout, f"the page did not finish loading:\n{proc.stdout[:2000]}"
    assert int(proc.stdout.split('data-table-height="', 1)[1].split('"', 1)[0]) > 0, "the table is not shown"
    assert len(dom.images) == len(MAIN_FIGS) + sum(map(len, NB_FIGS.values()))
    for img in dom.images:  # an image that failed to load has naturalWidth 0
        assert img.get("data-natural-width") not in (None, "0"), f"{img['src']} did not load in Chromium"
        assert img["data-natural-width"] == str(png_width(target(check, img["src"]))), img["src"]
    assert f"profile {PROFILE}" in dom.all_text and "Main comparison" in dom.all_text
