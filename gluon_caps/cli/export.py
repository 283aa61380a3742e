"""``gluon-caps export``: a checkpoint as a hybridized inference graph with its description."""
import click

from .options import checkpoint_argument, dtype_option, open_checkpoint


@click.command()
@checkpoint_argument
@click.argument("prefix", type=click.Path())
@dtype_option
def export(checkpoint, prefix, dtype):
    """Export a checkpoint as an inference graph.

    Writes PREFIX-symbol.json and PREFIX-0000.params, which load with
    gluon.SymbolBlock.imports(PREFIX-symbol.json, ["data"], PREFIX-0000.params) for any batch
    size (outputs: capsule lengths, then the reconstruction), and PREFIX-meta.json (model, input
    shape, classes, preprocessing, dtype). Missing directories are created. Standard MXNet
    operators only; a --dtype bfloat16 graph casts to bfloat16 before its convolutions
    (amp_cast) and runs on CPUs with bfloat16 instructions, not on GPUs."""
    from ..inference import export_checkpoint
    loaded, _ = open_checkpoint(checkpoint, "cpu")
    for path in export_checkpoint(loaded, prefix, dtype):
        click.echo("wrote %s" % path)
