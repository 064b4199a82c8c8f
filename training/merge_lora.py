"""Merge a LoRA adapter repo (what a ``*_lora.yaml`` recipe saves) into its base model: a plain model folder.

    HF_HUB_OFFLINE=1 .venv/bin/python -m training.merge_lora \
        --adapter build/models/Mistral-7B-Instruct-v0.1-simple_kv-sft-lora \
        --out build/models/Mistral-7B-Instruct-v0.1-simple_kv-sft-lora-merged

The base model is the one the adapter names (``adapter_config.json``: ``base_model_name_or_path``) unless ``--base``
says otherwise; the tokenizer and chat template come from the adapter folder (the ones training used). The merged
folder loads with ``AutoModelForCausalLM.from_pretrained`` alone, without PEFT, for serving or for
``python -m evaluation`` (which also loads the adapter folder directly).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from infra.cli import USER_ERRORS, UserError, fail, parse_config
from infra.outputs import check_output_folder, staged_folder

COMMAND = "training.merge_lora"


@dataclass
class MergeConfig:
    adapter: str = field(metadata={"help": "LoRA adapter folder (adapter_config.json + adapter_model.safetensors)."})
    out: str = field(metadata={"help": "Folder for the merged model (new, empty, or an earlier merge's output)."})
    base: str = field(default="", metadata={"help": "Base model folder or Hub id; default: the adapter's own."})
    dtype: str = field(
        default="auto",
        metadata={"help": "Weights dtype of the merged model: auto (the base checkpoint's), bfloat16, float32."},
    )
    force: bool = field(default=False, metadata={"help": "Replace a non-empty --out this command did not write."})

    def __post_init__(self) -> None:
        if not (Path(self.adapter) / "adapter_config.json").is_file():
            raise UserError(
                f"adapter {self.adapter} has no adapter_config.json; give the output_dir of a *_lora.yaml recipe"
            )
        if self.dtype not in ("auto", "bfloat16", "float32"):
            raise UserError(f"dtype={self.dtype!r}; use auto, bfloat16 or float32")
        check_output_folder(Path(self.out), COMMAND, self.force)  # before loading gigabytes of weights

    @property
    def base_model(self) -> str:
        return (
            self.base
            or json.loads((Path(self.adapter) / "adapter_config.json").read_text())["base_model_name_or_path"]
        )


def merge_adapter(cfg: MergeConfig) -> Path:
    """Load base + adapter, fold the LoRA deltas into the base weights, save model + tokenizer; returns ``out``."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(cfg.base_model, dtype=cfg.dtype)
    merged = PeftModel.from_pretrained(base, cfg.adapter).merge_and_unload()
    tokenizer = AutoTokenizer.from_pretrained(cfg.adapter)
    with staged_folder(Path(cfg.out), COMMAND, cfg.force) as folder:
        merged.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return Path(cfg.out)


def main(argv: list[str] | None = None) -> int:
    try:
        cfg = parse_config(MergeConfig, argv, "python -m training.merge_lora", __doc__.splitlines()[0])
        out = merge_adapter(cfg)
    except USER_ERRORS as err:
        return fail(err)
    print(f"merged {cfg.adapter} into {cfg.base_model}: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
