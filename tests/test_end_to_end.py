"""End to end on the real embedded model (`make test-slow`, ~4 min on 2 cores): GGUF → safetensors folder, real
SmolLM2-tokenized data, a few SFT steps with the real recipe, then the evaluation CLI on the result.

The default suite covers each stage on tiny fixtures; this checks the stages fit together on real weights.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dataset_builder.publish import build_folder

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "training/recipes/smollm2-135m-instruct/sft/smollm2_kv_600_full.yaml"
STEPS = 8  # x 4 prompts: enough for the answer-only loss to fall well below its first value


def run(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def small_named_config(tmp_path: Path, name: str, train_size: int, test_size: int) -> str:
    values = yaml.safe_load((ROOT / "dataset_builder/configs" / f"{name}.yaml").read_text())
    values.update(train_size=train_size, test_size=test_size)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


@pytest.mark.slow
def test_convert_train_evaluate_on_the_real_model(tmp_path):
    base = tmp_path / "SmolLM2-135M-Instruct"
    run("-m", "training.embedded_model", "--out", str(base))
    data = build_folder(
        tmp_path / "dataset",
        [
            small_named_config(tmp_path, "smollm2_kv_600", train_size=4 * STEPS, test_size=4),
            small_named_config(tmp_path, "smollm2_kv_600_sweep", train_size=0, test_size=5),
        ],
    )
    tuned = tmp_path / "tuned"
    run(
        "-m", "training.sft", "--config", str(RECIPE),
        "--model_name_or_path", str(base), "--dataset_name", str(data), "--output_dir", str(tuned),
        "--max_steps", str(STEPS), "--logging_steps", "1", "--save_steps", "1000",
    )  # fmt: skip
    losses = [h["loss"] for h in json.loads((tuned / "trainer_state.json").read_text())["log_history"] if "loss" in h]
    assert len(losses) == STEPS and losses[-1] < 0.5 * losses[0], losses

    out = tmp_path / "results"
    run("-m", "evaluation", "run", "--model", str(tuned), "--suites", "synthetic_kv", "--dataset", str(data),
        "--limit", "1", "--out", str(out))  # fmt: skip
    results = json.loads((out / "synthetic_kv.json").read_text())
    overall = results["overall"]
    assert set(overall) >= {"value", "dictionary", "both"}
    samples = [json.loads(line) for line in (out / "synthetic_kv.samples.jsonl").read_text().splitlines()]
    # the reported score is the recorded answers' own: the mean of the per-answer scores written beside them
    right = [s["scores"]["value"] for s in samples]
    assert set(right) <= {0.0, 1.0} and overall["value"]["n"] == len(samples) >= 5
    assert overall["value"]["score"] == sum(right) / len(samples)
