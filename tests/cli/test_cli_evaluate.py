"""``gluon-caps evaluate``: consistent reports, paper scoring of MultiMNIST, bad input."""
import json
import os
import re
import shutil

import numpy as np
import pytest

from gluon_caps.checkpoint import find_checkpoint, read_state
from gluon_caps.data import MNIST, MultiMNIST

from tests.cli.helpers import assert_input_error, assert_ok, invoke, net_outputs

pytestmark = pytest.mark.slow


def run_json(*args):
    return json.loads(assert_ok(invoke("evaluate", *args, "--json", "--ctx", "cpu")))


def check_report(report, count):
    confusion = np.array(report["confusion"])
    per_class = report["per_class"]
    assert report["count"] == count
    assert report["error"] == pytest.approx(report["errors"] / float(count))
    assert sum(row["count"] for row in per_class) == count * report["labels_per_image"]
    assert [row["count"] for row in per_class] == confusion.sum(axis=1).tolist()
    for row in per_class:
        expected = row["correct"] / float(row["count"]) if row["count"] else None
        assert row["accuracy"] == pytest.approx(expected)
    return confusion


def test_json_report_matches_the_networks_predictions(trained_run, mnist_root):
    report = run_json(trained_run)
    test = MNIST(mnist_root, "test")
    predicted = net_outputs(trained_run, test.images[:, None] / 255.0).argmax(axis=1)
    expected = np.zeros((10, 10), dtype=np.int64)
    np.add.at(expected, (test.labels, predicted), 1)
    confusion = check_report(report, len(test))
    assert report["dataset"] == "mnist" and report["labels_per_image"] == 1
    assert (confusion == expected).all()
    assert report["errors"] == confusion.sum() - np.trace(confusion)
    assert report["errors"] == int((predicted != test.labels).sum())
    assert [row["correct"] for row in report["per_class"]] == np.diag(confusion).tolist()
    assert report["model"] == "capsnet_mnist" and report["step"] == 2


def test_table_and_limit(trained_run):
    limited = run_json(trained_run, "--limit", "7", "--batch-size", "3")
    check_report(limited, 7)
    result = invoke("evaluate", trained_run, "--limit", "7", "--ctx", "cpu")
    table = assert_ok(result)
    assert result.stderr == ""                    # no progress bar when stderr is no terminal
    match = re.search(r"test error: ([\d.]+)% \((\d+) of 7 images\)", table)
    assert match and int(match.group(2)) == limited["errors"]
    assert "confusion matrix (rows: true class, columns: predicted class)" in table
    assert "capsnet_mnist trained on mnist (epoch 1, step 2)" in table


def test_multimnist_is_scored_as_in_the_paper(multimnist_run, mnist_root):
    report = run_json(multimnist_run, "--limit", "6")
    pairs = MultiMNIST(MNIST(mnist_root, "test"), pairs_per_image=1, seed=2)
    images = np.stack([pairs[index][0] for index in range(6)])
    labels = np.stack([pairs[index][1] for index in range(6)])
    top2 = np.argsort(-net_outputs(multimnist_run, images), axis=1)[:, :2]
    confusion = check_report(report, 6)
    assert report["dataset"] == "multimnist" and report["labels_per_image"] == 2
    assert report["errors"] == int((np.sort(top2, axis=1) != np.sort(labels, axis=1))
                                   .any(axis=1).sum())           # both classes, in any order
    wrong_pairs = confusion.sum() - np.trace(confusion)
    assert report["errors"] <= wrong_pairs <= 2 * report["errors"]
    holding = np.bincount(labels.ravel(), minlength=10)
    assert [row["count"] for row in report["per_class"]] == holding.tolist()


@pytest.fixture
def broken_checkpoint(tmp_path, trained_run):
    """A copy of the trained checkpoint, to spoil."""
    return shutil.copytree(find_checkpoint(trained_run), str(tmp_path / "checkpoint"))


def edit_config(checkpoint, **changes):
    path = os.path.join(checkpoint, "state.json")
    with open(path) as handle:
        state = json.load(handle)
    state["config"].update(changes)
    with open(path, "w") as handle:
        json.dump(state, handle)


def test_checkpoint_of_another_model_or_shape(broken_checkpoint):
    edit_config(broken_checkpoint, model="capsnet_smallnorb")
    assert_input_error(invoke("evaluate", broken_checkpoint),
                       os.path.join(broken_checkpoint, "model.params"), "capsnet_smallnorb")
    edit_config(broken_checkpoint, model="capsnet_mnist", input_shape=[1, 40, 40])
    assert_input_error(invoke("evaluate", broken_checkpoint), "model.params", "1x40x40")


def test_corrupt_checkpoint_files(broken_checkpoint):
    with open(os.path.join(broken_checkpoint, "model.params"), "wb") as handle:
        handle.write(b"not parameters")
    assert_input_error(invoke("evaluate", broken_checkpoint), "model.params", "capsnet_mnist")
    with open(os.path.join(broken_checkpoint, "state.json"), "w") as handle:
        handle.write("{")
    assert_input_error(invoke("evaluate", broken_checkpoint), "state.json", "not valid JSON")


@pytest.mark.parametrize("args, fragments", [
    (["--dataset", "cifar10"], ["'--dataset'", "cifar10"]),
    (["--dataset", "multimnist"], ["--dataset multimnist", "1x36x36", "1x28x28"]),
    (["--limit", "0"], ["'--limit'"]),
    (["--ctx", "tpu"], ["'--ctx'"]),
])
def test_bad_options(trained_run, args, fragments):
    assert_input_error(invoke("evaluate", trained_run, *args), *fragments)


def test_missing_checkpoint_and_data(tmp_path, trained_run):
    assert_input_error(invoke("evaluate", tmp_path / "nowhere"), "nowhere", "does not exist")
    assert_input_error(invoke("evaluate", tmp_path), str(tmp_path), "no complete")
    assert_input_error(invoke("evaluate", trained_run, "--data-root", tmp_path),
                       "t10k-images-idx3-ubyte.gz", str(tmp_path), "--data-root")


def test_pretrained_weights_are_evaluated_and_predict_by_name(tmp_path, monkeypatch, mnist_root,
                                                              trained_run, digit_pngs):
    import hashlib
    from gluon_caps.model_zoo import pretrained
    checkpoint = find_checkpoint(trained_run)
    weights = tmp_path / "capsnet_mnist-test.params"
    shutil.copy(os.path.join(checkpoint, "model.params"), str(weights))
    config = dict(read_state(checkpoint)["config"], data_root=mnist_root)
    (tmp_path / "capsnet_mnist.json").write_text(json.dumps(
        {"file": weights.name, "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
         "config": config, "epoch": 1, "step": 2}))
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", str(tmp_path))
    shipped = run_json("pretrained:capsnet_mnist")
    assert shipped["errors"] == run_json(trained_run)["errors"] and shipped["count"] == 40
    assert shipped["checkpoint"] == "pretrained:capsnet_mnist"
    predicted = json.loads(assert_ok(invoke("predict", "pretrained:capsnet_mnist", digit_pngs[0],
                                            "--json")))
    assert predicted["model"] == "pretrained:capsnet_mnist"
    assert_input_error(invoke("evaluate", "pretrained:capsnet_smallnorb"),
                       "capsnet_smallnorb has no pretrained weights yet")
