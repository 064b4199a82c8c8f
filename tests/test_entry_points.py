"""Every command's Ctrl-C: exit 130 and one line `error: interrupted; <what was kept and how to finish>`, never a
traceback, the same as a bad input's one line (tests/test_bad_inputs.py)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def interrupt(*args, **kwargs):
    raise KeyboardInterrupt


# (module, the name in it that the first step of main() calls, argv): Ctrl-C arrives while that step runs
ENTRY_POINTS = [
    ("dataset_builder.__main__", "parse_config", ["list"]),
    ("dataset_builder.bench", "parse_config", []),
    ("evaluation.__main__", "run_command", ["list"]),
    ("model_cards.__main__", "RUNNERS", ["card"]),
    ("pipeline.__main__", "read_plan", ["run", "plans/release.yaml"]),
    ("training.sft", "parse_recipe", []),
    ("training.bench", "parse_config", []),
    ("training.embedded_model", "parse_config", []),
    ("training.merge_lora", "parse_config", []),
    ("training.replay", "parse_config", []),
    ("training.openai_finetune", "parse_config", []),
]


@pytest.mark.parametrize(("module", "step", "argv"), ENTRY_POINTS, ids=[e[0] for e in ENTRY_POINTS])
def test_ctrl_c_is_exit_130_and_one_line_saying_what_was_kept(module, step, argv, monkeypatch, capsys):
    mod = importlib.import_module(module)
    if step == "RUNNERS":
        monkeypatch.setitem(mod.RUNNERS, argv[0], interrupt)
    else:
        monkeypatch.setattr(mod, step, interrupt)
    capsys.readouterr()

    assert mod.main(argv) == 130

    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: interrupted; ") and "Traceback" not in err, err
    assert "rerun" in err or "list them" in err  # it says how to finish


def test_every_entry_point_is_in_the_table_above():
    """A new ``def main`` without @entry_point would print a traceback on Ctrl-C: each one is listed and tested."""
    found = set()
    for path in ROOT.glob("*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts[len(ROOT.parts) :][:1]:
            continue
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == "main":
                decorators = [ast.unparse(d) for d in node.decorator_list]
                assert any(d.startswith("entry_point(") for d in decorators), f"{path}: main() lacks @entry_point"
                found.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    assert found == {module for module, _, _ in ENTRY_POINTS}
