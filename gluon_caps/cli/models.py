"""``gluon-caps models``: the registered models and their sizes."""
import json

import click

from ..errors import format_shape
from .options import json_option


def model_table():
    """One row per registered model: name, input shape, classes, parameters, primary capsules,
    and whether pretrained weights are shipped."""
    import numpy as np
    from ..model_zoo import get_model, get_model_list, pretrained_models
    rows, shipped = [], pretrained_models()
    for name in get_model_list():
        net = get_model(name)
        rows.append({
            "name": name,
            "input_shape": list(net.input_shape),
            "num_classes": net.num_classes,
            "primary_capsules": net.num_primary_capsules,
            "parameters": sum(int(np.prod(p.shape)) for p in net.collect_params().values()),
            "pretrained": name in shipped,
        })
    return rows


@click.command()
@json_option
def models(as_json):
    """List the registered models and their sizes.

    Input shape, classes, primary capsules and parameter count of each model, and the name of
    its pretrained weights (pretrained:NAME) where they are shipped."""
    rows = model_table()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo("%-20s %-12s %7s %9s %12s  %s" % ("model", "input", "classes", "capsules",
                                                 "parameters", "pretrained"))
    for row in rows:
        click.echo("%-20s %-12s %7d %9d %12s  %s" % (
            row["name"], format_shape(row["input_shape"]), row["num_classes"],
            row["primary_capsules"], format(row["parameters"], ","),
            "pretrained:%s" % row["name"] if row["pretrained"] else "-"))
