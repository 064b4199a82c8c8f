"""The configurable ``datasets`` builder: one ``BuilderConfig`` per named config, or any config you make.

``datasets`` 5 no longer runs loading scripts from the Hub, so the published dataset is Parquet files
(see publish.py). This builder is how you make your own variant locally, in Python::

    from dataset_builder.builder import load_variant
    ds = load_variant("simple_kv", num_dicts=40, max_tokens=2048)   # a DatasetDict with train/test

or with the ``datasets`` API directly::

    from dataset_builder.builder import SyntheticKV
    builder = SyntheticKV(config_name="smollm2_kv_600", cache_dir="/tmp/kv")
    builder.download_and_prepare()
    ds = builder.as_dataset()
"""

from __future__ import annotations

import dataclasses
from typing import Any

import datasets

from dataset_builder.config import DEFAULT_CONFIG, KVConfig, load_config, named_configs
from dataset_builder.schema import FEATURES
from dataset_builder.splits import build_splits
from dataset_builder.tokens import load_counter

VERSION = datasets.Version("1.0.0")
CITATION = """\
@article{xiong2024artificial,
  title   = {From Artificial Needles to Real Haystacks: Improving Retrieval Capabilities in LLMs by Finetuning
             on Synthetic Data},
  author  = {Xiong, Zheyang and Papageorgiou, Vasilis and Lee, Kangwook and Papailiopoulos, Dimitris},
  journal = {arXiv preprint arXiv:2406.19292},
  year    = {2024}
}"""


class KVBuilderConfig(datasets.BuilderConfig):
    """A ``BuilderConfig`` carrying one :class:`KVConfig`."""

    def __init__(self, kv: KVConfig | None = None, **kwargs: Any):
        kv = kv or load_config(DEFAULT_CONFIG)
        kwargs.setdefault("name", kv.name)
        kwargs.setdefault("description", kv.description)
        super().__init__(version=VERSION, **kwargs)
        self.kv = kv


class SyntheticKV(datasets.GeneratorBasedBuilder):
    BUILDER_CONFIG_CLASS = KVBuilderConfig
    BUILDER_CONFIGS = [KVBuilderConfig(kv=load_config(name)) for name in named_configs()]
    DEFAULT_CONFIG_NAME = DEFAULT_CONFIG

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(description=self.config.description, features=FEATURES, citation=CITATION)

    def _split_generators(self, dl_manager: Any) -> list[datasets.SplitGenerator]:
        # Both splits come from one call: the test split must be built knowing the train prompts.
        self._rows = build_splits(self.config.kv, load_counter(self.config.kv.tokenizer))
        return [datasets.SplitGenerator(name=split, gen_kwargs={"split": split}) for split in self._rows]

    def _generate_examples(self, split: str):
        for row in self._rows[split]:
            yield row["id"], row


def load_variant(name_or_path: str, cache_dir: str | None = None, **overrides: Any) -> datasets.DatasetDict:
    """Generate a named config (or YAML file) with field overrides, through the ``datasets`` builder."""
    kv = load_config(name_or_path, overrides)
    if overrides:
        kv = dataclasses.replace(kv, name=f"{kv.name}_custom") if kv.name in named_configs() else kv
    # datasets copies the default BuilderConfig and sets these attributes on it (a "custom configuration").
    builder = SyntheticKV(kv=kv, description=kv.description, cache_dir=cache_dir)
    builder.download_and_prepare()
    return builder.as_dataset()
