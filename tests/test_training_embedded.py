"""training/embedded_model.py: the GGUF becomes a plain model folder that reloads with the same greedy output."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from infra.outputs import MARKER, OutputError

pytestmark = pytest.mark.integration  # every test here trains, launches or converts a model


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


# Loads and dequantizes the 135M GGUF twice and generates: 36 s on 2 AMD EPYC cores, inside the default run's budget.
def test_conversion_round_trip(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.embedded_model import REQUIRED_FILES, convert, find_gguf, greedy_ids, load_from_gguf

    stale = tmp_path / f".SmolLM2-135M-Instruct.tmp-{socket.gethostname()}-{dead_pid()}"  # a killed conversion's
    (stale / "half").mkdir(parents=True)
    out = convert(tmp_path / "SmolLM2-135M-Instruct")
    assert all((out / name).is_file() for name in REQUIRED_FILES) and (out / MARKER).is_file()
    assert not list(tmp_path.glob(".SmolLM2*"))  # the temporary folder was renamed, the stale one removed
    config = json.loads((out / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in (out / "README.md").read_text()

    model = AutoModelForCausalLM.from_pretrained(out)  # no gguf_file
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert "<|im_start|>assistant" in tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    gguf_model, gguf_tokenizer = load_from_gguf(find_gguf())
    assert greedy_ids(model, tokenizer) == greedy_ids(gguf_model, gguf_tokenizer)

    mtime = (out / "model.safetensors").stat().st_mtime
    convert(out)  # idempotent: a complete folder is left alone
    assert (out / "model.safetensors").stat().st_mtime == mtime


def test_refuses_an_out_it_did_not_write_before_loading_anything(tmp_path, monkeypatch):
    from training import embedded_model

    monkeypatch.setattr(embedded_model, "load_from_gguf", lambda gguf: pytest.fail("loaded the GGUF"))
    foreign = tmp_path / "results"
    foreign.mkdir()
    (foreign / "base.json").write_text("{}")
    with pytest.raises(OutputError, match="did not write it"):
        embedded_model.convert(foreign)
    (tmp_path / "model.txt").write_text("notes")
    assert embedded_model.main(["--out", str(tmp_path / "model.txt")]) == 2
    assert (foreign / "base.json").read_text() == "{}" and (tmp_path / "model.txt").read_text() == "notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.txt", "results"]
