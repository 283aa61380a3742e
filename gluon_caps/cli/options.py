"""Arguments and options shared by the commands, defined once."""
import click

from ..inference.datasets import EVAL_DATASETS
from ..precision import DTYPES

__all__ = ["checkpoint_argument", "ctx_option", "batch_size_option", "json_option",
           "DTYPE_HELP", "dtype_option", "dataset_option", "data_root_option", "output_option",
           "invert_option", "open_checkpoint", "say"]

checkpoint_argument = click.argument("checkpoint", metavar="CHECKPOINT", type=click.Path())

ctx_option = click.option(
    "--ctx", type=click.Choice(["auto", "cpu", "gpu"]), default="auto", show_default=True,
    help="Device: auto takes the first GPU when MXNet sees one, else the CPU.")

batch_size_option = click.option(
    "--batch-size", type=click.IntRange(min=1), default=100, show_default=True,
    help="Images per forward pass.")

json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print JSON instead of a table.")

DTYPE_HELP = ("bfloat16: the convolutions compute in bfloat16 (a CPU with AMX or AVX-512 BF16; "
              "float16 on a GPU), the weights, routing and lengths in float32.")

dtype_option = click.option("--dtype", type=click.Choice(DTYPES), default="float32",
                            show_default=True, help=DTYPE_HELP)

dataset_option = click.option(
    "--dataset", type=click.Choice(EVAL_DATASETS), default=None,
    help="Images to use (default: the test split of the checkpoint's dataset; for mnist-t10k "
         "its 2,000 held-out images; mnist-val: the run's validation hold-out).")

data_root_option = click.option(
    "--data-root", type=click.Path(), default=None,
    help="Data directory (default: the checkpoint config's data_root, then $GLUON_CAPS_DATA).")

invert_option = click.option(
    "--invert", is_flag=True,
    help="Invert dark-on-light images (the models were trained on light digits on black).")


def output_option(default):
    """``-o/--output FILE`` of a figure; missing directories are created."""
    return click.option("-o", "--output", type=click.Path(dir_okay=False), default=default,
                        show_default=True,
                        help="Figure file (.png, .pdf, .svg...); missing directories are "
                             "created.")


def open_checkpoint(checkpoint, ctx, **model_kwargs):
    """``(checkpoint, context)``: the checkpoint (or ``pretrained:NAME``) loaded on the device
    ``--ctx`` names."""
    from ..inference import load_trained
    from ..training import select_context
    context = select_context(ctx, 0)
    return load_trained(checkpoint, context, **model_kwargs), context


def say(message):
    """A note for people, on stderr (stdout stays for results)."""
    click.echo(message, err=True)
