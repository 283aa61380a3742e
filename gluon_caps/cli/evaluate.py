"""``gluon-caps evaluate``: test error, per-class accuracy and confusion matrix of a checkpoint."""
import json
import sys

import click

from .options import (batch_size_option, checkpoint_argument, ctx_option, data_root_option,
                      dataset_option, dtype_option, json_option, open_checkpoint)


@click.command()
@checkpoint_argument
@dataset_option
@data_root_option
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Score only the first N images.")
@batch_size_option
@ctx_option
@dtype_option
@json_option
def evaluate(checkpoint, dataset, data_root, limit, batch_size, ctx, dtype, as_json):
    """Test error, per-class accuracy, confusion matrix.

    CHECKPOINT is a run directory (its best checkpoint), a checkpoint directory or a file in one,
    or pretrained:NAME for the weights shipped with the model zoo (gluon-caps models lists them).
    MultiMNIST is scored as in the paper: an image is right when its two longest capsules are its
    two classes; its per-class accuracy counts an image for both its classes."""
    from ..inference import describe, eval_data, evaluation_report, format_report
    from ..precision import inference_network
    loaded, context = open_checkpoint(checkpoint, ctx)
    computed = inference_network(loaded.net, dtype, context)
    data = eval_data(loaded, dataset, data_root, limit)
    report = evaluation_report(loaded.net, data, context, batch_size,
                               progress=sys.stderr.isatty())
    if as_json:
        report.update(checkpoint=loaded.path, model=loaded.net.model_name, dtype=computed,
                      epoch=loaded.state.get("epoch"), step=loaded.state.get("step"))
        click.echo(json.dumps(report, indent=2))
        return
    click.echo("checkpoint: %s\nmodel:      %s\ndataset:    %s\ndtype:      %s\n%s"
               % (loaded.path, describe(loaded), data.name, computed, format_report(report)))
