"""``gluon-caps reconstruct``, ``perturb`` and ``routing``: the grids drawn, and bad input."""
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
