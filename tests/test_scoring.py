"""The one scorer: the paper's error rule (both classes of a two-digit image), per-class accuracy,
the confusion matrix and sums over workers."""
import mxnet as mx
import numpy as np
import pytest

from gluon_caps.scoring import CapsuleScore, count_errors, match_labels, predicted_classes


def lengths_ranking(rankings, num_classes=10):
    """Capsule lengths whose longest capsules are, in order, each row of ``rankings``."""
    lengths = np.full((len(rankings), num_classes), 0.01, dtype=np.float32)
    for row, ranking in enumerate(rankings):
        for place, klass in enumerate(ranking):
            lengths[row, klass] = 0.9 - 0.1 * place
    return mx.nd.array(lengths)


def test_match_labels_single():
    truth, guess = match_labels(np.array([3, 1, 4]), np.array([3, 2, 4]))
    assert truth.tolist() == [[3], [2], [4]] and guess.tolist() == [[3], [1], [4]]


def test_match_labels_pairs_the_predictions_with_the_true_classes():
    rng = np.random.RandomState(0)
    labels = np.stack([rng.choice(5, 2, replace=False) for _ in range(200)])
    predicted = np.stack([rng.choice(5, 2, replace=False) for _ in range(200)])
    truth, guess = match_labels(predicted, labels)
    assert (truth == labels).all()
    assert (np.sort(guess, axis=1) == np.sort(predicted, axis=1)).all()
    both_found = (np.sort(predicted, axis=1) == np.sort(labels, axis=1)).all(axis=1)
    assert ((truth == guess).all(axis=1) == both_found).all()
    swapped = match_labels(np.array([[7, 2]]), np.array([[2, 5]]))[1]
    assert swapped.tolist() == [[2, 7]]                      # the 2 is paired with the true 2


def test_two_digit_images_count_as_right_only_when_both_classes_are():
    lengths = lengths_ranking([[7, 3], [0, 2], [1, 0]])
    assert predicted_classes(lengths, 2).tolist() == [[7, 3], [0, 2], [1, 0]]
    assert count_errors(lengths, np.array([[3, 7], [0, 1], [0, 1]])) == 1
    assert count_errors(lengths_ranking([[1], [2], [3]]), mx.nd.array([1, 0, 3])) == 1


def test_score_counts_per_class_and_the_confusion_matrix():
    score = CapsuleScore(3)
    score.update(mx.nd.array([0, 1, 2, 2]), lengths_ranking([[0], [2], [2], [1]], 3))
    assert (score.count, score.errors) == (4, 2)
    assert score.get() == ("error", 0.5)
    assert score.confusion.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    report = score.report(["a", "b", "c"])
    assert [row["accuracy"] for row in report["per_class"]] == [1.0, 0.0, 0.5]
    score.reset()
    assert score.count == 0 and np.isnan(score.error)


def test_a_two_digit_image_counts_for_both_its_classes():
    score = CapsuleScore(4)
    score.update([mx.nd.array([[0, 1], [2, 3]])], [lengths_ranking([[1, 0], [2, 0]], 4)])
    assert (score.count, score.errors) == (2, 1)
    assert score.holding.tolist() == [1, 1, 1, 1]
    assert score.correct.tolist() == [1, 1, 0, 0]
    assert score.confusion[3].tolist() == [1, 0, 0, 0]       # the true 3 matched with the 0


class TwoWorkers(object):
    """A communicator whose other worker scored exactly the same."""

    def allreduce_sum(self, values):
        return 2 * np.asarray(values, dtype=np.float64)


def test_scores_sum_over_workers():
    score = CapsuleScore(3)
    score.update(mx.nd.array([0, 1]), lengths_ranking([[0], [2]], 3))
    score.sum_over(TwoWorkers())
    assert (score.count, score.errors, score.error) == (4, 2, 0.5)
    assert score.confusion.tolist() == [[2, 0, 0], [0, 0, 2], [0, 0, 0]]
    assert score.holding.tolist() == [2, 2, 0] and score.correct.tolist() == [2, 0, 0]


@pytest.mark.parametrize("labels_per_image", [1, 2])
def test_predicted_classes_are_the_longest_capsules(labels_per_image):
    lengths = mx.nd.array([[0.1, 0.7, 0.3, 0.9]])
    assert predicted_classes(lengths, labels_per_image).tolist() == \
        ([3] if labels_per_image == 1 else [[3, 1]])
