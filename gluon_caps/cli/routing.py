"""``gluon-caps routing``: the coupling coefficients of one image as heatmaps."""
import click

from .options import checkpoint_argument, ctx_option, invert_option, open_checkpoint, \
    output_option, say


@click.command()
@checkpoint_argument
@click.argument("image", type=click.Path())
@output_option("routing.png")
@click.option("--per-type", is_flag=True,
              help="One heatmap per capsule type and class instead of the mean over types.")
@invert_option
@ctx_option
def routing(checkpoint, image, output, per_type, invert, ctx):
    """Figure: routing coefficients of one image.

    The coupling coefficients c_ij of the last routing iteration for IMAGE (PNG, JPEG or .npy,
    prepared as for predict), drawn over the grid of primary capsules, one heatmap per class."""
    from ..data import class_names
    from ..inference import coupling_maps, describe, load_image
    from ..viz import plot_routing
    loaded, _ = open_checkpoint(checkpoint, ctx, return_coupling=True)
    pixels, notes = load_image(image, loaded.net.input_shape, invert)
    for note in notes:
        say("note: %s: %s" % (image, note))
    lengths, coupling = coupling_maps(loaded.net, pixels)
    names = class_names(loaded.config["dataset"], loaded.net.num_classes)
    click.echo("wrote %s" % plot_routing(output, pixels, lengths, coupling, names,
                                         "%s: %s" % (describe(loaded), image), per_type))
