"""``gluon-caps export``: a checkpoint as a hybridized inference graph with its description."""
import click

from .options import checkpoint_argument, open_checkpoint


@click.command()
@checkpoint_argument
@click.argument("prefix", type=click.Path())
def export(checkpoint, prefix):
    """Export a checkpoint as an inference graph.

    Writes PREFIX-symbol.json and PREFIX-0000.params, which load with
    gluon.SymbolBlock.imports(PREFIX-symbol.json, ["data"], PREFIX-0000.params) for any batch
    size (outputs: capsule lengths, then the reconstruction), and PREFIX-meta.json (model, input
    shape, classes, preprocessing). Missing directories are created."""
    from ..inference import export_checkpoint
    loaded, _ = open_checkpoint(checkpoint, "cpu")
    for path in export_checkpoint(loaded, prefix):
        click.echo("wrote %s" % path)
