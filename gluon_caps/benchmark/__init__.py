"""Speed and memory of CapsNet on this machine, against the ceiling its hardware allows
(``gluon-caps bench``)."""
from .flops import model_gflops, conv_gflops, conv1_output_size
from .stages import STAGES, Stage, network_stages, stage_times
from .run import (benchmark_network, run_benchmark, format_benchmark, ceiling_gflops,
                  peak_memory_sweep, check_torch_reference, torch_reference)

__all__ = ["model_gflops", "conv_gflops", "conv1_output_size", "STAGES", "Stage",
           "network_stages", "stage_times", "benchmark_network", "run_benchmark",
           "format_benchmark", "ceiling_gflops", "peak_memory_sweep", "check_torch_reference",
           "torch_reference"]
