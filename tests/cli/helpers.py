"""Helpers of the command-line tests: running commands, small checkpoints, reading figures."""
import os

import mxnet as mx
import numpy as np
from click.testing import CliRunner
from mxnet import gluon
from PIL import Image

from gluon_caps.cli import main
from gluon_caps.checkpoint import find_checkpoint, save_checkpoint
from gluon_caps.model_zoo import build_model
from gluon_caps.training import resolve_config
from gluon_caps.checkpoint import read_state


def _runner():
    try:                        # click < 8.2 mixes stderr into stdout unless told not to
        return CliRunner(mix_stderr=False)
    except TypeError:           # click >= 8.2 always keeps them apart
        return CliRunner()


def invoke(*args):
    """Run ``gluon-caps ARGS`` in-process; return the click Result (stdout and stderr apart)."""
    return _runner().invoke(main, [str(arg) for arg in args], catch_exceptions=True)


def assert_ok(result):
    """The command succeeded; return its stdout."""
    assert result.exit_code == 0, (result.exit_code, result.output, result.exception)
    return result.stdout


def assert_input_error(result, *fragments):
    """Exit code 2, no traceback, the error on stderr naming every fragment."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]


def write_checkpoint(run_dir, net=None, **overrides):
    """Save an untrained network (or ``net``) as a checkpoint of a run configured by
    ``overrides``; return the checkpoint directory."""
    config = resolve_config(None, dict({"num_workers": 0}, **overrides))
    if net is None:
        net = build_model(config)
        net.initialize()
    trainer = gluon.Trainer(net.collect_params(), "adam")
    return save_checkpoint(str(run_dir), net, trainer, {"epoch": 0, "step": 0, "config": config})


def net_outputs(run, images):
    """Capsule lengths of float ``images`` computed straight from a run's checkpoint."""
    checkpoint = find_checkpoint(run)
    net = build_model(read_state(checkpoint)["config"])
    net.load_parameters(os.path.join(checkpoint, "model.params"), ctx=mx.cpu())
    lengths = net(mx.nd.array(images))
    return lengths[0].asnumpy()


def write_pngs(directory, images):
    """Write uint8 ``(N, H, W)`` images as ``digit-I.png``; return the paths."""
    paths = []
    for index, image in enumerate(images):
        paths.append(os.path.join(str(directory), "digit-%d.png" % index))
        Image.fromarray(image).save(paths[-1])
    return paths


def read_figure(path):
    """A written figure as an RGB uint8 array, checked to be non-constant."""
    with Image.open(path) as image:
        assert image.format == "PNG"
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.std() > 0
    return pixels


def panel_runs(pixels, axis, min_size=20):
    """``(start, stop)`` of the panels' bands along a figure: columns (``axis=0``) or rows
    (``axis=1``) in which most pixels are not white, as wide as most such bands (so text lines,
    colour bars and the odd larger panel are left out)."""
    covered = (pixels < 240).any(axis=-1).mean(axis=axis) > 0.3
    edges = np.flatnonzero(np.diff(np.concatenate([[0], covered.astype(np.int8), [0]])))
    runs = [(start, stop) for start, stop in zip(edges[::2], edges[1::2])
            if stop - start >= min_size]
    size = np.median([stop - start for start, stop in runs])
    return [(start, stop) for start, stop in runs if abs(stop - start - size) <= 0.1 * size]


def panel_grid(pixels):
    """``(rows, columns)`` of the grid of equal panels drawn in a figure (rows are counted
    within the panels' columns)."""
    columns = panel_runs(pixels, 0)
    inside = np.concatenate([np.arange(start, stop) for start, stop in columns])
    return len(panel_runs(pixels[:, inside], 1)), len(columns)
