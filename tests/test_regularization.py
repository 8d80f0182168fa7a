"""Each regularizer does what it says: penalties, decay, early stopping, mixing, cutout, augmentation, noise."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import TINY, dlb
from dlbasics import load_config, train
from dlbasics.config import resolve_config
from dlbasics.data.augment import augment, box_mask, cutmix, cutout, cutout_boxes, mixup, rotate, translate
from dlbasics.nn.gradcheck import numerical_gradient, rel_error
from dlbasics.nn.model import Sequential
from dlbasics.nn.parameter import Parameter
from dlbasics.nn.registry import mlp_layers
from dlbasics.optim.optimizers import SGD, AdamW
from dlbasics.train.callbacks import EarlyStopping
from dlbasics.train.loop import History
from dlbasics.train.regularization import Regularizer, penalised_weights


def small_model(batchnorm=False):
    return Sequential(mlp_layers([5, 4], 3, flatten=False, batchnorm=batchnorm)).build(
        (6,), np.random.default_rng(0), np.float64)


@pytest.mark.parametrize("l1,l2", [(0.0, 0.3), (0.2, 0.0), (0.1, 0.05)])
def test_penalty_gradients_match_finite_differences(l1, l2):
    model = small_model(batchnorm=True)
    reg = Regularizer(model, {"l1": l1, "l2": l2}, None, "classification", 3, {})
    for p in model.parameters():
        p.grad[...] = 0
    reg.after_backward()
    weights = penalised_weights(model)
    assert len(weights) == 3 and all(p.name == "weight" for p in weights)  # no biases, no batch-norm gamma
    for p in weights:
        numeric = numerical_gradient(reg.penalty, p.data, np.arange(p.size))
        assert rel_error(p.grad.ravel(), numeric) < 1e-7
    bn = model.layers[1]
    assert np.all(bn.weight.grad == 0) and np.all(model.layers[-1].b.grad == 0)


def test_l2_penalty_value_is_half_lambda_norm_squared():
    model = small_model()
    reg = Regularizer(model, {"l2": 0.4}, None, "classification", 3, {})
    expected = 0.2 * sum(float(np.sum(p.data ** 2)) for p in penalised_weights(model))
    assert reg.penalty() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("cls", [SGD, AdamW])
def test_weight_decay_shrinks_weights_by_the_exact_factor(cls):
    p = Parameter(np.array([2.0, -4.0]))
    opt = cls([p], lr=0.1, weight_decay=0.5)
    opt.step()  # zero gradient: only the decay acts
    np.testing.assert_allclose(p.data, [2.0 * 0.95, -4.0 * 0.95], rtol=1e-15)


def test_early_stopping_stops_at_the_right_epoch_and_restores_the_best_weights():
    model = small_model()
    stopper = EarlyStopping(model, monitor="val_loss", patience=2, min_delta=0.01)
    stopper.history = History()
    losses = [1.0, 0.8, 0.795, 0.7, 0.71, 0.705, 0.6]  # best 0.7 at epoch 4 (0.795 is not 0.01 better)
    for epoch, value in enumerate(losses, start=1):
        model.layers[0].W.data[...] = epoch  # the weights "of" each epoch
        stopper.on_epoch_end({"epoch": epoch, "val_loss": value})
        if stopper.history.stop:
            break
    assert stopper.stopped_epoch == 6 and stopper.best_epoch == 4
    stopper.on_train_end()
    assert np.all(model.layers[0].W.data == 4)


def test_early_stopping_in_a_run_reports_and_tests_the_best_epoch(write_config, tmp_path):
    path = write_config(TINY)
    cfg = load_config(path, ["train.epochs=40", "optimizer.lr=0.05", "regularization.early_stopping={patience: 2}"])
    s = train(cfg, runs_dir=tmp_path).summary
    es = s["early_stopping"]
    assert es["stopped_epoch"] == s["epochs_completed"] < 40 and es["restored"]
    assert s["final"]["epoch"] == es["best_epoch"] == s["best"]["epoch"]


def test_mixup_labels_sum_to_one_and_follow_lambda():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 1, 4, 4)), rng.integers(0, 5, 8)
    xm, ym, lam = mixup(x, y, np.random.default_rng(1), 0.4, 5)
    np.testing.assert_allclose(ym.sum(axis=1), 1.0)
    perm = np.random.default_rng(1)
    perm.beta(0.4, 0.4)
    perm = perm.permutation(8)
    np.testing.assert_allclose(xm, lam * x + (1 - lam) * x[perm])
    np.testing.assert_allclose(ym, lam * np.eye(5)[y] + (1 - lam) * np.eye(5)[y[perm]])


def test_cutmix_pastes_one_box_and_mixes_labels_by_area():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((6, 1, 10, 10)), np.arange(6) % 3
    xm, ym, lam = cutmix(x, y, np.random.default_rng(3), 1.0, 3)
    changed = np.any(xm != x, axis=1)  # (N, H, W)
    pasted = np.mean(changed, axis=(1, 2))
    moved = pasted > 0
    np.testing.assert_allclose(pasted[moved], 1 - lam)  # the box covers exactly 1 - lam of the image
    np.testing.assert_allclose(ym.sum(axis=1), 1.0)
    assert np.all(np.isclose(ym.max(axis=1), max(lam, 1 - lam)) | np.isclose(ym.max(axis=1), 1.0))


def test_cutout_zeroes_exactly_the_box():
    rng = np.random.default_rng(4)
    x = rng.uniform(0.5, 1.0, (5, 2, 9, 9))
    out = cutout(x, np.random.default_rng(5), size=4)
    boxes = cutout_boxes(np.random.default_rng(5), 5, 9, 9, 4)
    mask = np.broadcast_to(box_mask(boxes, 9, 9), x.shape)
    assert np.all(out[mask] == 0) and np.array_equal(out[~mask], x[~mask])
    assert np.all(mask.sum(axis=(1, 2, 3)) > 0) and np.all(x > 0)


def test_augmentation_keeps_shapes_and_is_identical_for_the_same_seed():
    x = np.random.default_rng(6).uniform(size=(7, 1, 28, 28)).astype(np.float32)
    kw = {"shift": 2, "rotation": 10.0, "crop_padding": 3, "hflip": True}
    a = augment(x, np.random.default_rng(7), **kw)
    b = augment(x, np.random.default_rng(7), **kw)
    c = augment(x, np.random.default_rng(8), **kw)
    assert a.shape == x.shape and a.dtype == np.float32 and np.array_equal(a, b) and not np.array_equal(a, c)
    assert not np.shares_memory(a, x)


def test_translate_and_rotate_move_pixels_where_they_should():
    x = np.zeros((1, 1, 5, 5))
    x[0, 0, 2, 2] = 1.0
    shifted = translate(x, np.array([1]), np.array([-2]))
    assert shifted[0, 0, 3, 0] == 1.0 and shifted.sum() == 1.0
    np.testing.assert_allclose(rotate(x, np.array([90.0])), x, atol=1e-12)  # the centre pixel stays
    edge = np.zeros((1, 1, 5, 5))
    edge[0, 0, 2, 4] = 1.0
    turned = rotate(edge, np.array([90.0]))
    assert turned.sum() == pytest.approx(1.0)
    assert max(turned[0, 0, 0, 2], turned[0, 0, 4, 2]) == pytest.approx(1.0)  # a quarter turn about the centre


def test_regularizers_touch_training_batches_only(write_config, tmp_path):
    from dlbasics.runner import Run, build
    from dlbasics.train.loop import evaluate

    path = write_config(TINY)
    cfg = load_config(path, ["regularization.input_noise.std=0.5", "regularization.weight_noise.std=0.1",
                             "regularization.mixup.alpha=0.4"])
    run = train(cfg, runs_dir=tmp_path)
    model, exp = Run(run.path).load_model(), build(cfg)
    val = evaluate(model, exp.loss, exp.splits.x_val, exp.splits.y_val)
    assert val["loss"] == pytest.approx(run.metrics.val_loss.iloc[-1], rel=1e-6)  # evaluation saw no noise


def test_weight_noise_restores_the_weights_exactly():
    model = small_model()
    reg = Regularizer(model, {"weight_noise": {"std": 0.3}}, None, "classification", 3,
                      {"weight_noise": np.random.default_rng(0)})
    before = [p.data.copy() for p in penalised_weights(model)]
    reg.before_forward()
    assert not np.array_equal(before[0], model.layers[0].W.data)
    reg.after_backward()
    assert all(np.array_equal(b, p.data) for b, p in zip(before, penalised_weights(model)))


def test_label_smoothing_is_shared_with_the_loss():
    cfg = resolve_config({"regularization": {"label_smoothing": 0.1}}, "x")
    assert cfg["loss"]["label_smoothing"] == 0.1


def test_train_size_is_the_training_count_after_the_validation_split(write_config, tmp_path):
    cfg = load_config(write_config("data: {name: mnist-mini, train_size: 800, val_split: 0.2}\n"
                                   "train: {epochs: 1}\n"))
    s = train(cfg, runs_dir=tmp_path).summary
    assert (s["data"]["n_train"], s["data"]["n_val"], s["data"]["n_test"]) == (800, 200, 2000)


@pytest.mark.parametrize("text,fragment", [
    ("regularization: {mixup: {alpha: -1}}\n", "regularization.mixup.alpha: expected a number >= 0, got -1"),
    ("regularization: {cutout: {size: 40}}\n", "regularization.cutout.size: 40 is bigger than the 28x28 images"),
    ("data: {augment: {rotation: 400}}\n", "data.augment.rotation: expected a number >= 0 and <= 180, got 400"),
    ("train: {batch_size: 0}\n", "train.batch_size: expected an integer >= 1 or 'full', got 0"),
    ("data: {train_size: 20000}\n", "data.train_size: 20000 is more than the 10000 training samples"),
    ("data: {name: spirals, augment: {shift: 2}}\n", "data.augment: needs image data"),
])
def test_bad_regularization_values_exit_2_with_one_line(write_config, text, fragment):
    result = dlb("train", write_config(text), "--runs-dir", "/nonexistent-never-created")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert fragment in result.stderr


def test_mixup_works_with_binary_cross_entropy(write_config, tmp_path):
    cfg = load_config(write_config(TINY), ["data.n_classes=2", "loss.name=bce_with_logits",
                                           "regularization.mixup.alpha=0.2", "regularization.cutmix.alpha=0"])
    assert train(cfg, runs_dir=tmp_path).summary["status"] == "completed"
