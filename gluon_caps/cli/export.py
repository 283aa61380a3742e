"""``gluon-caps export``: a checkpoint as a hybridized inference graph with its description."""
import click

from ..inference.export import EXPORT_FORMATS
from .options import checkpoint_argument, dtype_option, open_checkpoint


@click.command()
@checkpoint_argument
@click.argument("prefix", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="mxnet",
              show_default=True,
              help="mxnet: PREFIX-symbol.json and PREFIX-0000.params; onnx: PREFIX.onnx "
                   "(float32, needs the onnx extra).")
@dtype_option
def export(checkpoint, prefix, fmt, dtype):
    """Export a checkpoint as an inference graph.

    Writes PREFIX-symbol.json and PREFIX-0000.params, which load with
    gluon.SymbolBlock.imports(PREFIX-symbol.json, ["data"], PREFIX-0000.params) for any batch
    size (outputs: capsule lengths, then the reconstruction), and PREFIX-meta.json (model, input
    shape, classes, preprocessing, dtype). Missing directories are created. Standard MXNet
    operators only; a --dtype bfloat16 graph casts to bfloat16 before its convolutions
    (amp_cast) and runs on CPUs with bfloat16 instructions, not on GPUs.

    With --format onnx: PREFIX.onnx (standard ONNX operators of opset 13, input "data" with a
    free batch axis, outputs "lengths" and "reconstruction") beside the same PREFIX-meta.json,
    which onnxruntime (and predict) runs without MXNet."""
    from ..inference import export_checkpoint
    loaded, _ = open_checkpoint(checkpoint, "cpu")
    for path in export_checkpoint(loaded, prefix, dtype, fmt):
        click.echo("wrote %s" % path)
