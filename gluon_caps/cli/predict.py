"""``gluon-caps predict``: classify image files with a checkpoint or an exported model."""
import json

import click

from ..precision import DTYPES
from .options import DTYPE_HELP, batch_size_option, ctx_option, invert_option, json_option, say


@click.command()
@click.argument("model", type=click.Path())
@click.argument("images", nargs=-1, required=True, type=click.Path())
@invert_option
@batch_size_option
@ctx_option
@click.option("--dtype", type=click.Choice(DTYPES), default=None,
              help=DTYPE_HELP + " Default float32 for a checkpoint; an export computes in the "
                                "dtype it was exported in.")
@json_option
def predict(model, images, invert, batch_size, ctx, dtype, as_json):
    """Classify image files.

    MODEL is a checkpoint (run or checkpoint directory, or a file in one) or an export (PREFIX,
    PREFIX-symbol.json, PREFIX-meta.json or PREFIX.onnx; a PREFIX with both names the MXNet
    export). An ONNX model runs in onnxruntime on the CPU (--ctx gpu is refused for it) and
    reads the PREFIX-meta.json beside it. IMAGES are PNG or JPEG files (made grayscale,
    padded to the input's aspect ratio and resized to it, scaled to [0, 1]) or .npy arrays
    (taken as they are when shaped as the input: (C, H, W), or (H, W) for one channel).
    Prints the class and the capsule lengths of each image; notes on how an image was fitted
    go to stderr."""
    from ..inference import classify_files, export_format, load_classifier
    from ..training import select_context
    if ctx == "gpu" and export_format(model) == "onnx":
        raise click.BadParameter("ONNX models run in onnxruntime on the CPU here",
                                 param_hint="--ctx")
    context = select_context(ctx, 0)
    classifier = load_classifier(model, context, dtype)
    results = classify_files(classifier, list(images), context, invert, batch_size)
    for result in results:
        for note in result["notes"]:
            say("note: %s: %s" % (result["image"], note))
    if as_json:
        click.echo(json.dumps({"model": classifier.source, "class_names": classifier.class_names,
                               "predictions": results}, indent=2))
        return
    width = max(len(result["image"]) for result in results)
    click.echo("%-*s  %-7s %s" % (width, "image", "class", "capsule lengths (class: length)"))
    for result in results:
        click.echo("%-*s  %-7s %s" % (
            width, result["image"], ",".join(classifier.class_names[index]
                                             for index in result["classes"]),
            "  ".join("%s: %.3f" % (name, length)
                      for name, length in zip(classifier.class_names, result["lengths"]))))
