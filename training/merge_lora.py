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

from infra.cli import UserError, entry_point, parse_config
from infra.model_folder import ModelFolderError, check_model
from infra.outputs import check_output_folder, staged_folder

COMMAND = "training.merge_lora"


class MergeError(UserError):
    """The adapter or its base model cannot be merged; the message names the file or setting and the fix."""


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
    base_model: str = field(init=False, default="")  # --base, or the adapter's own base; checked to be a model

    def __post_init__(self) -> None:
        if not (Path(self.adapter) / "adapter_config.json").is_file():
            raise MergeError(
                f"adapter {self.adapter} has no adapter_config.json; give the output_dir of a *_lora.yaml recipe"
            )
        if self.dtype not in ("auto", "bfloat16", "float32"):
            raise MergeError(f"dtype={self.dtype!r}; use auto, bfloat16 or float32")
        adapter_base = read_adapter_base(Path(self.adapter) / "adapter_config.json", needed=not self.base)
        self.base_model = self.base or adapter_base
        try:  # a missing local path would otherwise reach the Hub client as "Repo id must be in the form ..."
            check_model(self.base_model)
        except ModelFolderError as err:
            if self.base:
                raise MergeError(f"--base: {err}") from err
            raise MergeError(
                f"{err} (it is the base model {self.adapter}/adapter_config.json names; pass --base to use another "
                "copy of it)"
            ) from err
        check_output_folder(Path(self.out), COMMAND, self.force)  # before loading gigabytes of weights


def read_adapter_base(path: Path, needed: bool) -> str | None:
    """The base model a PEFT ``adapter_config.json`` names; refuses a file that is not a PEFT adapter config, and
    (when ``needed``, no --base given) one that names no base model."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise MergeError(
            f"{path} is not JSON ({err}); the adapter folder is damaged: train it again, or copy it again"
        ) from err
    if not isinstance(config, dict) or not config.get("peft_type"):
        raise MergeError(
            f"{path} is not a PEFT adapter config (no peft_type); give the output_dir of a *_lora.yaml recipe"
        )
    base = config.get("base_model_name_or_path")
    if needed and not (isinstance(base, str) and base):
        raise MergeError(
            f"{path} names no base model (no base_model_name_or_path); pass --base <base model folder or Hub id>"
        )
    return base


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


@entry_point("nothing was replaced (the merged model is staged, then renamed into place): rerun the command")
def main(argv: list[str] | None = None) -> None:
    cfg = parse_config(MergeConfig, argv, "python -m training.merge_lora", __doc__.splitlines()[0])
    out = merge_adapter(cfg)
    print(f"merged {cfg.adapter} into {cfg.base_model}: {out}")


if __name__ == "__main__":
    sys.exit(main())
