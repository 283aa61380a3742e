"""``gluon-caps perturb``: the paper's dimension-perturbation figure (Fig. 4) for one image."""
import click

from ..errors import ConfigError
from .options import (checkpoint_argument, ctx_option, data_root_option, dataset_option,
                      open_checkpoint, output_option)


@click.command()
@checkpoint_argument
@output_option("perturb.png")
@click.option("--index", type=click.IntRange(min=0), default=0, show_default=True,
              help="Position of the image in the data set.")
@dataset_option
@data_root_option
@ctx_option
def perturb(checkpoint, output, index, dataset, data_root, ctx):
    """Figure: each capsule dimension perturbed.

    Each dimension of the image's capsule of its true class is tweaked by -0.25 .. 0.25 in steps
    of 0.05 and decoded: a 16 x 11 grid, one row per dimension."""
    from ..inference import PERTURBATION_STEPS, describe, eval_data, perturb_capsule, take
    from ..viz import plot_perturbation
    loaded, _ = open_checkpoint(checkpoint, ctx)
    data = eval_data(loaded, dataset, data_root)
    if index >= len(data.dataset):
        raise ConfigError("--index %d is out of range: %s has %d images"
                          % (index, data.name, len(data.dataset)))
    images, labels = take(data.dataset, [index])
    label = int(labels.ravel()[0])
    decoded = perturb_capsule(loaded.net, images[0], label, PERTURBATION_STEPS)
    title = ("%s\n%s image #%d: its capsule of class %s (the true class),\none dimension "
             "tweaked per row and decoded; framed: unchanged"
             % (describe(loaded), data.name, index, data.class_names[label]))
    click.echo("wrote %s" % plot_perturbation(output, decoded, PERTURBATION_STEPS, title))
