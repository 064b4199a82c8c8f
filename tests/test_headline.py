"""The README's headline is generated from results files: the block between the markers is render_block of
docs/headline.json, and only that block (and that JSON) is ever written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixture_data import write_fixture_results

from model_cards.__main__ import main as reports_main
from model_cards.headline import BEGIN, END, render_block

ROOT = Path(__file__).resolve().parents[1]
README = "# Project\n\nintro\n\n" + BEGIN + "\nold typed numbers\n" + END + "\n\n## Rest\nkept\n"


@pytest.fixture()
def results(tmp_path):
    base, tuned = tmp_path / "results" / "base", tmp_path / "results" / "finetuned"
    write_fixture_results(base, "nq_closed", {"closed-book": 3})
    write_fixture_results(tuned, "nq_closed", {"closed-book": 8}, model="finetuned")
    return base, tuned


def run(results, tmp_path, readme_text=README):
    readme, out = tmp_path / "README.md", tmp_path / "docs" / "headline.json"
    readme.write_text(readme_text)
    out.parent.mkdir(exist_ok=True)
    base, tuned = results
    argv = ["headline", "--base-results", str(base), "--finetuned-results", str(tuned)]
    return reports_main([*argv, "--json", str(out), "--readme", str(readme)]), readme, out


def test_the_block_is_rendered_from_the_results_and_the_rest_of_the_readme_is_kept(results, tmp_path):
    code, readme, out = run(results, tmp_path)
    assert code == 0
    summary = json.loads(out.read_text())
    nq = summary["tasks"]["nq_closed"]
    assert (nq["base"]["score"], nq["finetuned"]["score"], nq["finetuned"]["delta"]) == (0.3, 0.8, 0.5)
    text = readme.read_text()
    assert "old typed numbers" not in text and render_block(summary) in text
    assert text.startswith("# Project\n\nintro\n\n" + BEGIN) and text.endswith(END + "\n\n## Rest\nkept\n")
    assert "| 30.0 [" in text and "| +50.0 (p=0.062) | 10 |" in text  # 5 gained, none lost: p = 2/32


def test_a_readme_without_markers_or_a_json_of_someone_else_is_refused_untouched(results, tmp_path, capsys):
    code, readme, out = run(results, tmp_path, readme_text="# no markers\n")
    assert code == 2 and "needs one <!-- headline:begin --> line" in capsys.readouterr().err
    assert readme.read_text() == "# no markers\n" and not out.exists()
    out.write_text('{"mine": true}\n')
    code, readme, _ = run(results, tmp_path)
    assert code == 2 and "was not written by `python -m model_cards headline`" in capsys.readouterr().err
    assert out.read_text() == '{"mine": true}\n' and "old typed numbers" in readme.read_text()


def test_the_committed_readme_block_matches_the_committed_summary():
    """Once `make headline` has written docs/headline.json, the README must show exactly its rendering."""
    readme = (ROOT / "README.md").read_text()
    assert readme.count(BEGIN) == 1 and readme.count(END) == 1
    summary_path = ROOT / "docs" / "headline.json"
    if not summary_path.is_file():
        pytest.skip("docs/headline.json not generated yet: `make release && make headline` writes it")
    block = readme.split(BEGIN)[1].split(END)[0].strip("\n")
    assert block == render_block(json.loads(summary_path.read_text()))
