"""``gluon-caps curve``: the learning curve of a training run."""
import click

from .options import output_option


@click.command()
@click.argument("run", metavar="RUN")
@output_option("curve.png")
def curve(run, output):
    """Figure: validation error and training loss per epoch of a run.

    RUN is a run directory (the --output of launch/train.py) or its log.jsonl; the best
    validation epoch is marked, and the test error when the run has finished."""
    from ..viz import plot_learning_curve, read_log
    epochs, final = read_log(run)
    click.echo("wrote %s" % plot_learning_curve(output, epochs, final,
                                                title="%s: %d epochs" % (run, len(epochs))))
