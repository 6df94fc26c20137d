import math

import numpy as np
import pytest
from sklearn import metrics as skm

from myovox.evaluation.metrics import (
    accuracy,
    balanced_accuracy,
    classification_scores,
    confusion_matrix,
    itr_wolpaw,
    macro_f1,
    summarize,
)
from myovox.exceptions import ValidationError


def test_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 200)
    p = np.where(rng.random(200) < 0.6, y, rng.integers(0, 5, 200))
    assert balanced_accuracy(y, p) == pytest.approx(skm.balanced_accuracy_score(y, p))
    assert accuracy(y, p) == pytest.approx(skm.accuracy_score(y, p))
    assert macro_f1(y, p) == pytest.approx(skm.f1_score(y, p, average="macro"))
    np.testing.assert_array_equal(confusion_matrix(y, p, range(5)), skm.confusion_matrix(y, p, labels=range(5)))


def test_confusion_fixed_labels_even_when_absent():
    cm = confusion_matrix([1, 1, 2], [1, 2, 2], labels=[0, 1, 2, 3])
    assert cm.shape == (4, 4)
    assert cm[1, 1] == 1 and cm[1, 2] == 1 and cm[2, 2] == 1 and cm.sum() == 3


def test_balanced_accuracy_weights_classes_equally():
    y = [0] * 90 + [1] * 10
    p = [0] * 100
    assert accuracy(y, p) == pytest.approx(0.9)
    assert balanced_accuracy(y, p) == pytest.approx(0.5)


def test_metric_input_errors():
    with pytest.raises(ValidationError, match="same length"):
        accuracy([1, 2], [1])
    with pytest.raises(ValidationError, match="empty"):
        balanced_accuracy([], [])


def test_itr_known_values():
    # perfect accuracy: 60/T log2 M
    assert itr_wolpaw(1.0, 9, 1.4) == pytest.approx(60 / 1.4 * math.log2(9))
    assert itr_wolpaw(1.0, 2, 1.0) == pytest.approx(60.0)
    # hand-computed: M=4, P=0.8, T=2 s: 2 + 0.8 log2 0.8 + 0.2 log2(0.2/3) = 0.9610 bit/selection
    bits = 2 + 0.8 * math.log2(0.8) + 0.2 * math.log2(0.2 / 3)
    assert itr_wolpaw(0.8, 4, 2.0) == pytest.approx(30 * bits)
    assert itr_wolpaw(0.8, 4, 2.0) == pytest.approx(28.83, abs=0.01)
    # SilentWear-like: 84.8 % of 9 classes at 1.4 s
    p = 0.848
    expected = 60 / 1.4 * (math.log2(9) + p * math.log2(p) + (1 - p) * math.log2((1 - p) / 8))
    assert itr_wolpaw(p, 9, 1.4) == pytest.approx(expected)
    # at or below chance: 0; clipped above 1
    assert itr_wolpaw(1 / 9, 9, 1.0) == 0.0
    assert itr_wolpaw(0.05, 9, 1.0) == 0.0
    assert itr_wolpaw(1.2, 9, 1.0) == itr_wolpaw(1.0, 9, 1.0)
    # monotone above chance
    vals = [itr_wolpaw(p, 9, 1.0) for p in np.linspace(0.12, 1.0, 20)]
    assert np.all(np.diff(vals) > 0)


@pytest.mark.parametrize("args", [(0.5, 1, 1.0), (0.5, 9, 0.0), (0.5, 9, -1), (float("nan"), 9, 1.0)])
def test_itr_bad_arguments(args):
    with pytest.raises(ValidationError):
        itr_wolpaw(*args)


def test_summarize_population_std_over_subject_means():
    mean, std = summarize({"S1": 0.8, "S2": 0.6, "S3": float("nan")})
    assert mean == pytest.approx(0.7)
    assert std == pytest.approx(0.1)  # ddof=0, NaN ignored
    assert summarize([0.8, 0.6], ddof=1)[1] == pytest.approx(np.std([0.8, 0.6], ddof=1))
    assert summarize([0.5]) == (0.5, 0.0)
    assert all(math.isnan(v) for v in summarize([]))


def test_classification_scores_keys():
    s = classification_scores([0, 1, 2, 2], [0, 1, 2, 1], labels=[0, 1, 2], window_s=1.0)
    assert set(s) == {"balanced_accuracy", "accuracy", "macro_f1", "itr_bits_per_min", "confusion"}
    assert s["accuracy"] == 0.75 and len(s["confusion"]) == 3
    assert s["itr_bits_per_min"] == pytest.approx(itr_wolpaw(s["balanced_accuracy"], 3, 1.0))
