"""``gluon-caps reconstruct``: inputs over their reconstructions from the class capsules."""
import click

from .options import (checkpoint_argument, ctx_option, data_root_option, dataset_option,
                      open_checkpoint, output_option)


@click.command()
@checkpoint_argument
@output_option("recon.png")
@click.option("--num", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Number of images (the first ones of the data set).")
@dataset_option
@data_root_option
@ctx_option
def reconstruct(checkpoint, output, num, dataset, data_root, ctx):
    """Figure: test images over their reconstructions.

    Each image is decoded from its longest class capsule, as in the paper's Fig. 3 (MultiMNIST:
    one row per digit capsule, the two longest)."""
    from ..inference import describe, eval_data, reconstruct_images, take
    from ..viz import plot_reconstructions
    loaded, _ = open_checkpoint(checkpoint, ctx)
    data = eval_data(loaded, dataset, data_root, limit=num)
    images, labels = take(data.dataset, range(len(data.dataset)))
    _, classes, decoded = reconstruct_images(loaded.net, images, data.labels_per_image)
    title = "%s\nthe first %d %s images" % (describe(loaded), len(images), data.name)
    click.echo("wrote %s" % plot_reconstructions(output, images, labels, classes, decoded,
                                                 data.class_names, title))
