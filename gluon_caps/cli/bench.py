"""``gluon-caps bench``: images/s, peak memory and stage times against the machine's ceiling."""
import json
import sys

import click

from .options import ctx_option, dtype_option, json_option


def _batch_sizes(ctx, param, value):
    if value is None:
        return None
    try:
        sizes = [int(size) for size in value.split(",")]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise click.BadParameter("a comma-separated list of positive batch sizes, e.g. "
                                 "32,128,512", ctx=ctx, param=param)
    return sizes


@click.command()
@click.option("--model", default="capsnet_mnist", show_default=True,
              help="A model of `gluon-caps models`.")
@click.option("--batch-size", type=click.IntRange(min=1), default=128, show_default=True)
@click.option("--mode", type=click.Choice(["train", "infer"]), default="train",
              show_default=True, help="A training step (Adam) or a forward pass.")
@click.option("--hybridize/--no-hybridize", default=True, show_default=True,
              help="hybridize(static_alloc=True, static_shape=True), or imperative.")
@click.option("--steps", type=click.IntRange(min=1), default=10, show_default=True,
              help="Timed steps per round.")
@click.option("--rounds", type=click.IntRange(min=1), default=3, show_default=True,
              help="Rounds of --steps steps; the fastest counts (model, ceiling and stages).")
@click.option("--input-size", type=click.IntRange(min=1), default=None, metavar="S",
              help="Build the model's architecture for S x S images (default: its own size), "
                   "with as many primary capsules as that size gives.")
@click.option("--stages/--no-stages", default=True, show_default=True,
              help="Time each stage of the network alone, on inputs computed beforehand.")
@click.option("--ceiling/--no-ceiling", default=True, show_default=True,
              help="Measure the PrimaryCaps convolution alone (the ceiling).")
@click.option("--memory-sweep", callback=_batch_sizes, default=None, metavar="B1,B2,...",
              help="Also the peak memory at these batch sizes, one process each.")
@click.option("--onnxruntime", is_flag=True,
              help="With --mode infer: also time the network exported to ONNX in onnxruntime "
                   "(CPU, OMP_NUM_THREADS threads) on the same batch.")
@click.option("--torch-reference", type=click.Path(dir_okay=False), default=None,
              help="Run this PyTorch reference script right after (e.g. "
                   "../shared/bench/torch_reference.py) and report the speed-up.")
@click.option("--torch-python", default=sys.executable, show_default="this Python",
              help="The Python that has torch, for --torch-reference.")
@ctx_option
@dtype_option
@click.option("--bf16-dense/--no-bf16-dense", "dense", default=False, show_default=True,
              help="With --dtype bfloat16: the decoder's dense layers in bfloat16 too, not only "
                   "the convolutions.")
@json_option
def bench(model, batch_size, mode, hybridize, steps, rounds, input_size, stages, ceiling,
          memory_sweep, onnxruntime, torch_reference, torch_python, ctx, dtype, dense, as_json):
    """Images/s, peak memory and a per-stage breakdown against the ceiling.

    The ceiling is the model's PrimaryCaps convolution (about 94 % of its arithmetic) run alone
    through MXNet's best kernel: its GFLOP/s divided by the model's GFLOP per image gives the
    images/s this machine could reach if everything else were free.

    With --input-size S the model's architecture is built for S x S images, so that the peak
    memory and speed of larger inputs (more primary capsules) are one command; the peak memory
    is that of the whole process, so measure it with --no-stages --no-ceiling.

    Each stage (conv1, primary, predictions, routing, decoder, and last the capsule lengths:
    "rest", or in training "loss + update" with the loss and the Adam update; no predictions
    where the capsule layer routes without them, its routing then starting from the primary
    capsules) is timed alone,
    forward and, in training, backward, on inputs the stages before it computed once; so no
    stage time is a difference of two timings, and none is negative. Timed apart, the stages
    do not share the whole network's graph and memory plan, so their sum, printed under them,
    need not equal the whole step.

    With --dtype bfloat16 the network, its stages and a second ceiling compute in bfloat16; the
    fraction of the float32 ceiling is then the speed-up over what float32 could reach at best.
    Compare two dtypes in two runs (one process each: the peak memory is the process's).

    With --mode infer --onnxruntime the network is also exported to ONNX (the float32 graph
    `gluon-caps export --format onnx` writes) and timed in onnxruntime on the same batch. Set
    OMP_NUM_THREADS to compare like with like: both then run that many threads; without it
    onnxruntime takes one per physical core and MXNet half the logical cores of an x86 CPU.

    Bad options, a missing --torch-reference script or a --torch-python that is no executable
    are reported before anything is timed."""
    from .. import benchmark
    from ..training import select_context
    if torch_reference:
        benchmark.check_torch_reference(torch_reference, torch_python)
    result = benchmark.run_benchmark(model, batch_size, mode, hybridize, steps, stages, ceiling,
                                     select_context(ctx, 0), rounds, dtype,
                                     dense, input_size, onnxruntime)
    if memory_sweep:
        result["memory_sweep_gib"] = benchmark.peak_memory_sweep(
            memory_sweep, model, mode, dtype=dtype, dense=dense,
            input_size=input_size)
    if torch_reference:
        result["torch_images_per_s"] = benchmark.torch_reference(
            torch_reference, torch_python, mode, batch_size, steps)
        result["speedup_over_torch"] = result["images_per_s"] / result["torch_images_per_s"]
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo("\n".join(benchmark.format_benchmark(result)))
