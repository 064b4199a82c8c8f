"""training/openai_finetune.py without a key: prints the exact requests, never a key; bad input fails clearly."""

from __future__ import annotations

import json

from training import openai_finetune

SYSTEM = "Write a response that appropriately completes the request."


def write_chats(path, n: int) -> None:
    rows = [
        {
            "messages": [
                {"role": "system", "content": SYSTEM},
                {
                    "role": "user",
                    "content": f"Dictionary [1] {{{100 + i}: {500 + i}}} Report the value of key {100 + i}.",
                },
                {
                    "role": "assistant",
                    "content": f"The value of key {100 + i} is {500 + i} and it is in Dictionary [1].",
                },
            ]
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_dry_run_prints_both_requests(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    train = tmp_path / "train.jsonl"
    write_chats(train, 12)
    assert openai_finetune.main(["--train", str(train), "--n-epochs", "2", "--suffix", "simple-kv"]) == 0
    out = capsys.readouterr().out
    assert "POST https://api.openai.com/v1/files" in out and "purpose=fine-tune" in out and "12 chats" in out
    assert "POST https://api.openai.com/v1/fine_tuning/jobs" in out
    body = json.loads(next(line for line in out.splitlines() if line.strip().startswith("{")))
    assert body == {
        "model": "gpt-3.5-turbo-1106",
        "hyperparameters": {"n_epochs": 2},
        "suffix": "simple-kv",
        "seed": 42,
        "training_file": "<file id from request 1>",
    }


def test_key_is_never_printed(tmp_path, monkeypatch, capsys):
    secret = "sk-test-do-not-print"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    sent = []

    def fake_post(url, data, content_type, key):
        sent.append((url, content_type, key))
        return {"id": "file-abc"} if url.endswith("/files") else {"id": "ftjob-1", "status": "validating_files"}

    monkeypatch.setattr(openai_finetune, "post", fake_post)
    train = tmp_path / "train.jsonl"
    write_chats(train, 10)
    assert openai_finetune.main(["--train", str(train)]) == 0
    assert [u for u, _, _ in sent] == [f"{openai_finetune.API}/files", f"{openai_finetune.API}/fine_tuning/jobs"]
    assert sent[0][1].startswith("multipart/form-data; boundary=") and sent[1][1] == "application/json"
    out = capsys.readouterr()
    assert "ftjob-1" in out.out and secret not in out.out + out.err


def test_missing_or_malformed_file_fails_with_the_fix(tmp_path, capsys):
    assert openai_finetune.main(["--train", str(tmp_path / "none.jsonl")]) == 2
    assert "make dataset" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    assert openai_finetune.main(["--train", str(bad)]) == 2
    assert "ending in assistant" in capsys.readouterr().err


def test_defaults_are_the_papers_gpt35_setting(tmp_path, monkeypatch, capsys):
    """3 epochs unless told otherwise (0 = OpenAI's 'auto': no hyperparameters), and `make openai-finetune` submits
    the GPT-3.5 config, multi-subkey with 150 rows of 49 dictionaries, built first when missing."""
    import re
    from pathlib import Path

    from dataset_builder.config import load_config

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    train = tmp_path / "train.jsonl"
    write_chats(train, 10)

    def body(argv):
        assert openai_finetune.main(["--train", str(train), *argv]) == 0
        out = capsys.readouterr().out
        return json.loads(next(line for line in out.splitlines() if line.strip().startswith("{")))

    assert body([])["hyperparameters"] == {"n_epochs": 3}
    assert "hyperparameters" not in body(["--n-epochs", "0"])
    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    config = re.search(r"^OPENAI_CONFIG \?= (\S+)$", makefile, re.M).group(1)
    assert re.search(r"^OPENAI_EPOCHS \?= 3$", makefile, re.M) and "--n-epochs $(OPENAI_EPOCHS)" in makefile
    cfg = load_config(config)
    assert (cfg.task, cfg.train_size, cfg.num_dicts, cfg.tokenizer) == ("multi_subkey_kv", 150, 49, "cl100k_base")
    builds = "--configs $(OPENAI_CONFIG)\n\t$(PY) -m training.openai_finetune"  # the config it submits is built first
    assert builds + " --train $(DATASET_DIR)/openai/$(OPENAI_CONFIG)/train.jsonl" in makefile
