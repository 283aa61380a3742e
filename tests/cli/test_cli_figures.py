"""``gluon-caps reconstruct``, ``perturb``, ``routing``, ``curve``: the figures, and bad input."""
import json

import numpy as np
import pytest

from tests.cli.helpers import (assert_input_error, assert_ok, invoke, panel_grid, read_figure,
                               write_checkpoint)

pytestmark = pytest.mark.slow


def draw(*args):
    """Run a figure command; return the figure it reports writing, as pixels."""
    output = assert_ok(invoke(*args)).strip()
    assert output.startswith("wrote ")
    return read_figure(output[len("wrote "):])


def test_reconstruct_grid_in_a_new_directory(tmp_path, trained_run):
    output = tmp_path / "new" / "dir" / "recon.png"
    pixels = draw("reconstruct", trained_run, "-o", output, "--num", 5)
    assert panel_grid(pixels) == (2, 5)                   # inputs over reconstructions
    assert pixels.shape[1] > pixels.shape[0]


def test_reconstruct_two_digits_per_image(tmp_path, multimnist_run):
    pixels = draw("reconstruct", multimnist_run, "-o", tmp_path / "r.png", "--num", 3)
    assert panel_grid(pixels) == (3, 3)                   # input, 1st and 2nd capsule


def test_perturb_grid(tmp_path, trained_run):
    pixels = draw("perturb", trained_run, "-o", tmp_path / "p.png", "--index", 2)
    assert panel_grid(pixels) == (16, 11)                 # dimensions x steps of 0.05
    assert pixels.shape[0] > pixels.shape[1]


@pytest.mark.parametrize("flags, grid", [([], (2, 5)), (["--per-type"], (10, 32))])
def test_routing_heatmaps(tmp_path, trained_run, digit_pngs, flags, grid):
    pixels = draw("routing", trained_run, digit_pngs[0], "-o", tmp_path / "c.png", *flags)
    assert panel_grid(pixels) == grid                     # classes, or classes x types


def test_figures_differ_between_images(tmp_path, trained_run):
    first = draw("perturb", trained_run, "-o", tmp_path / "a.png", "--index", 0)
    second = draw("perturb", trained_run, "-o", tmp_path / "b.png", "--index", 1)
    assert first.shape == second.shape and not np.array_equal(first, second)


def test_bad_figure_input(tmp_path, trained_run, digit_pngs):
    assert_input_error(invoke("perturb", trained_run, "--index", 40, "-o", tmp_path / "p.png"),
                       "--index 40", "40 images")
    assert_input_error(invoke("reconstruct", trained_run, "-o", tmp_path / "r.xyz"),
                       "r.xyz", "'xyz'", ".png")
    assert_input_error(invoke("reconstruct", trained_run, "-o", tmp_path), str(tmp_path),
                       "is a directory")
    (tmp_path / "file").write_text("")
    assert_input_error(invoke("reconstruct", trained_run, "-o", tmp_path / "file" / "r.png"),
                       "cannot create the output directory", str(tmp_path / "file"))
    assert_input_error(invoke("routing", trained_run, tmp_path / "none.png"),
                       "cannot read image", "none.png")
    assert not list(tmp_path.glob("*.png"))


def test_model_without_decoder_cannot_reconstruct(tmp_path, mnist_root):
    run = tmp_path / "run"
    write_checkpoint(run, reconstruction_weight=0.0, data_root=mnist_root)
    for command in ("reconstruct", "perturb"):
        assert_input_error(invoke(command, run, "-o", tmp_path / "x.png"),
                           "capsnet_mnist", "without a decoder")
    assert not list(tmp_path.glob("*.png"))


def write_log(path, records):
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def test_curve_plots_a_runs_log_the_last_record_of_each_epoch_counting(tmp_path):
    from gluon_caps.viz import read_log
    epochs = [{"epoch": epoch, "step": 10 * epoch, "train_loss": 1.0 / epoch,
               "train_error": 0.5 / epoch, "val_error": 0.2 / epoch} for epoch in (1, 2, 3)]
    again = dict(epochs[1], val_error=0.05)                    # validated again after a resume
    final = {"final": True, "test_error": 0.07, "checkpoint": "checkpoints/epoch-0002"}
    log = write_log(tmp_path / "log.jsonl", epochs + [again, final])
    got, last = read_log(str(tmp_path))
    assert [record["val_error"] for record in got] == [0.2, 0.05, 0.2 / 3] and last == final
    output = tmp_path / "figs" / "curve.png"
    assert assert_ok(invoke("curve", log, "-o", output)).strip() == "wrote %s" % output
    read_figure(str(output))


def test_curve_of_a_bad_log_is_one_line(tmp_path):
    write_log(tmp_path / "log.jsonl", [{"final": True, "test_error": 0.1}])
    assert_input_error(invoke("curve", tmp_path), "log.jsonl holds no epoch record yet")
    (tmp_path / "log.jsonl").write_text('{"epoch": 1, "train_loss": 1}\n[1, 2]\n')
    assert_input_error(invoke("curve", tmp_path), "log.jsonl, line 2: not a JSON object")
    assert_input_error(invoke("curve", tmp_path / "nowhere"), "cannot read the run log",
                       "nowhere")
