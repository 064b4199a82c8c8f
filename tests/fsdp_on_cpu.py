"""Test-only launcher: ``training.sft`` under accelerate's FSDP config, on CPU processes talking over gloo.

accelerate never enables FSDP on CPU: its state turns ``ACCELERATE_USE_FSDP`` into ``DistributedType.FSDP`` only for
accelerator devices, and leaves CPU processes at ``MULTI_CPU`` (plain data parallel), so ``fsdp.yaml`` would silently
run as DDP here. This launcher lifts that one gate, so the FSDP2 wrapping, sharded optimizer, checkpointing and
FULL_STATE_DICT save of the GPU path really run on 2 CPU processes. Everything else is the product's own code:

    accelerate launch --config_file training/accelerate/fsdp.yaml --num_processes 2 tests/fsdp_on_cpu.py \
        --config <recipe> --model_name_or_path <tiny model> --max_steps 4 --use_cpu true
"""

import os
import runpy
import sys

from accelerate.state import AcceleratorState
from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin

accelerate_init = AcceleratorState.__init__


def init_with_fsdp_on_cpu(self, *args, fsdp_plugin=None, **kwargs):
    accelerate_init(self, *args, fsdp_plugin=fsdp_plugin, **kwargs)
    if os.environ.get("ACCELERATE_USE_FSDP") == "true" and self.distributed_type == DistributedType.MULTI_CPU:
        # the state is shared and re-initialised by later Accelerator() calls: keep the plugin the first call got
        plugin = fsdp_plugin or getattr(self, "fsdp_plugin", None) or FullyShardedDataParallelPlugin()
        if self._mixed_precision != "no":
            plugin.set_mixed_precision(self._mixed_precision)
        self.distributed_type = DistributedType.FSDP
        self.fsdp_plugin = plugin


if __name__ == "__main__":
    AcceleratorState.__init__ = init_with_fsdp_on_cpu
    sys.argv[0] = "training.sft"
    runpy.run_module("training.sft", run_name="__main__", alter_sys=True)
