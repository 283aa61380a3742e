"""Speed and memory of CapsNet on this machine, against the ceiling its hardware allows
(``gluon-caps bench``)."""
from .flops import model_gflops, conv_gflops, conv1_output_size
from .stages import STAGES, Stage, stage_times
from .run import (run_benchmark, format_benchmark, ceiling_gflops, peak_memory_sweep,
                  check_torch_reference, torch_reference)

__all__ = ["model_gflops", "conv_gflops", "conv1_output_size", "STAGES", "Stage", "stage_times",
           "run_benchmark", "format_benchmark", "ceiling_gflops", "peak_memory_sweep",
           "check_torch_reference", "torch_reference"]
