"""scikit-learn compatible SpeechNet classifier (fit, predict, fine-tune), PyTorch inside.

The training recipe is SilentWear's: Adam (lr 1e-3, weight decay 1e-4), batch 32, cross-entropy,
ReduceLROnPlateau(factor 0.1, patience 2) on the validation loss, early stopping with patience 10,
at most 100 epochs. Unlike the reference, early stopping restores a *copy* of the best weights.
With ``fast=True`` the forward/backward pass is :func:`myovox.models.fast.fast_forward`, which
computes the same mathematics faster on CPUs (with C kernels compiled on first use where a C
compiler is available; ``MYOVOX_C_KERNELS=0`` turns them off).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import numbers
import os
import time
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from .._checks import check_int, check_option, check_positive, did_you_mean
from .._logging import logger, progress, use_log_level
from ..exceptions import ValidationError

__all__ = ["SpeechNetClassifier"]

_FINE_TUNE_STRATEGIES = ("all", "head", "bn")
_EVAL_BATCH = 256  # windows per batch when only evaluating (no gradients; larger only costs memory)
_CPU_SAMPLES: list[tuple[float, float]] = []  # (wall, process CPU) seconds at recent thread decisions


def _auto_threads(n_max: int) -> int:
    """Torch threads for the next fit/predict: the cores that other processes leave idle.

    Measured on a shared 2-core machine: with the other core busy, two threads were 1.5-3x
    slower than one (oversubscription); on an idle machine two were 1.5x faster than one. Other
    processes' load is estimated twice: from the 1-minute load average, less this process's own
    share of it (its CPU seconds per second over the last minute), and from the tasks runnable
    right now (``/proc/loadavg``) less this process's own runnable threads. The load average
    lags by a minute and still holds work this process (or a finished job) did before, which
    made ``"auto"`` fall to one thread on an idle machine; a process that keeps a core busy
    shows in both, so the smaller of the two decides (:func:`_choose_threads`).
    """
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not on this platform
        return n_max
    now, cpu = time.monotonic(), time.process_time()
    _CPU_SAMPLES.append((now, cpu))
    while len(_CPU_SAMPLES) > 2 and now - _CPU_SAMPLES[1][0] > 60.0:
        _CPU_SAMPLES.pop(0)
    t0, c0 = _CPU_SAMPLES[0]
    own = (cpu - c0) / (now - t0) if now - t0 > 1.0 else 0.0
    return _choose_threads(n_max, _n_cores(), max(0.0, load - own), _others_running_now())


def _n_cores() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _others_running_now() -> float | None:
    """Runnable tasks of other processes at this instant (Linux ``/proc``), ``None`` where unknown.

    ``/proc/loadavg``'s fourth field counts the runnable tasks system-wide (this thread included);
    this process's own runnable threads (OpenMP workers still spinning, say) are read from
    ``/proc/self/task/*/stat`` and taken off.
    """
    try:
        with open("/proc/loadavg", encoding="ascii") as fh:
            running = int(fh.read().split()[3].split("/")[0])
        own = 0
        for task in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{task}/stat", encoding="ascii", errors="replace") as fh:
                    stat = fh.read()
            except OSError:  # the thread ended meanwhile
                continue
            if stat[stat.rindex(")") + 2 :].startswith("R"):
                own += 1
    except (OSError, ValueError, IndexError):
        return None
    return float(max(0, running - max(own, 1)))


def _choose_threads(n_max: int, n_cores: int, others_avg: float, others_now: float | None) -> int:
    """Threads from the cores, torch's setting ``n_max`` and two estimates of other processes' load.

    ``others_avg``: from the 1-minute load average (lags, holds past work); ``others_now``: the
    other tasks runnable now (a snapshot; ``None`` where unknown). A process that keeps a core
    busy shows in both, past or brief work in only one, so the smaller decides; an idle machine
    therefore gets every core (up to ``n_max``), a 2-core machine with one core busy one thread.
    """
    others = others_avg if others_now is None else min(others_avg, others_now)
    return int(min(max(1, round(n_cores - others)), n_max))


def _adam(torch: Any, params: list[Any], lr: float, weight_decay: float, *, fused: bool) -> Any:
    """Adam; ``fused`` uses torch's single-kernel CPU implementation of the same update (~5% of a
    batch-32 SpeechNet step saved on one thread), falling back to the default where unavailable."""
    if fused:
        try:
            return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
        except (RuntimeError, TypeError, ValueError):
            pass
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def _adam_step(torch: Any, opt: Any) -> Any:
    """``opt.step`` for an Adam optimiser made by :func:`_adam` with ``fused=True`` over one flat parameter, without
    the optimiser's per-call Python (~0.18 ms of a 14 x 700 step of ~7 ms, measured: that code runs cold after the
    kernels' ~17 MB of work): myovox's C kernel ``myovox_adam`` where the C kernels are built (one call instead of
    two torch operations, ~0.1 ms less per step; the same update within a rounding or two, on the optimiser's
    own state), else the fused torch kernel with the arguments ``torch.optim.Adam`` passes it (bitwise its update).
    ``opt.step`` itself where the optimiser is anything else, before its state exists (the first step makes it)
    and where this torch lacks the kernel."""
    groups = opt.param_groups
    fused_op = getattr(torch, "_fused_adam_", None)
    if not (
        isinstance(opt, torch.optim.Adam)
        and fused_op is not None
        and len(groups) == 1
        and len(groups[0]["params"]) == 1
        and groups[0].get("fused")
        and not any(groups[0].get(k) for k in ("amsgrad", "maximize", "capturable", "differentiable"))
        and not groups[0].get("decoupled_weight_decay", False)
        and getattr(opt, "grad_scale", None) is None
        and getattr(opt, "found_inf", None) is None
    ):
        return opt.step
    group = groups[0]
    (param,) = group["params"]
    from ._blocks_c import _c_ready

    kernel = None
    if _c_ready():
        from ._c import bindings

        kernel = bindings.adam

    def step() -> None:
        state = opt.state.get(param)
        if not state or param.grad is None:
            opt.step()
            return
        beta1, beta2 = group["betas"]
        t = state["step"]
        if (
            kernel is not None
            and param.dtype == t.dtype == param.grad.dtype == torch.float32
            and param.is_contiguous()
            and param.grad.is_contiguous()
        ):
            kernel(
                param=param.detach(),
                grad=param.grad,
                exp_avg=state["exp_avg"],
                exp_avg_sq=state["exp_avg_sq"],
                step=t,
                n=param.numel(),
                lr=float(group["lr"]),  # read at every step: the learning-rate scheduler changes it
                beta1=float(beta1),
                beta2=float(beta2),
                weight_decay=float(group["weight_decay"]),
                eps=float(group["eps"]),
            )
            return
        with torch.no_grad():
            state["step"].add_(1)  # torch._foreach_add_(state_steps, 1) in torch.optim.adam._fused_adam
            fused_op(
                [param],
                [param.grad],
                [state["exp_avg"]],
                [state["exp_avg_sq"]],
                [],
                [state["step"]],
                amsgrad=False,
                lr=group["lr"],  # read at every step: the learning-rate scheduler changes it
                beta1=float(beta1),
                beta2=float(beta2),
                weight_decay=group["weight_decay"],
                eps=group["eps"],
                maximize=False,
                grad_scale=None,
                found_inf=None,
            )

    return step


@contextlib.contextmanager
def _flat_parameters(torch: Any, params: list[Any]) -> Iterator[tuple[list[Any], Any]]:
    """The parameters' values and gradients as views of two contiguous tensors while training.

    Yields ``(params for the optimiser, gradient buffer)``: one parameter over all the values, whose
    gradient is the buffer the parameters' own gradients are views of (backward accumulates into them
    in place; zero the buffer, not the gradients, between steps). Adam's update is elementwise, so
    one fused update of the whole buffer is the same update as one per tensor, without the per-tensor
    bookkeeping of ``torch.optim`` (~0.15 ms of a 2-4 ms step for SpeechNet's 22 tensors on the
    machine measured). Afterwards every parameter gets its own storage again and no gradient.
    """
    with torch.no_grad():
        values = torch.cat([p.detach().reshape(-1) for p in params])
        grads = torch.zeros_like(values)
        offset = 0
        for p in params:
            n = p.numel()
            p.data = values[offset : offset + n].view_as(p)
            p.grad = grads[offset : offset + n].view_as(p)
            offset += n
    flat = torch.nn.Parameter(values)
    flat.grad = grads
    try:
        yield [flat], grads
    finally:
        with torch.no_grad():
            for p in params:
                p.data = p.data.clone()
                p.grad = None


def _torch() -> Any:
    from .._checks import require

    return require("torch", "SpeechNetClassifier")


def _random_state(random_state: Any, offset: int = 0) -> np.random.RandomState:
    """A ``RandomState`` from ``random_state``: an int seeds it (plus ``offset``), ``None`` draws
    fresh entropy, a ``RandomState`` or ``Generator`` is drawn from (not copied)."""
    if random_state is None:
        return np.random.RandomState(None)
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.RandomState((int(random_state) + offset) % 2**32)
    if isinstance(random_state, np.random.RandomState):
        return random_state
    if isinstance(random_state, np.random.Generator):
        return np.random.RandomState(int(random_state.integers(0, 2**32)))
    raise ValidationError(
        f"Invalid value for 'random_state': expected an int, a numpy RandomState or Generator, "
        f"or None, got {random_state!r}."
    )


class SpeechNetClassifier(ClassifierMixin, BaseEstimator):
    """SpeechNet trained with SilentWear's recipe, as a scikit-learn classifier.

    Parameters
    ----------
    n_epochs : int
        Maximum number of epochs.
    batch_size : int
        Training mini-batch size.
    lr, weight_decay : float
        Adam's learning rate and (L2) weight decay.
    lr_factor, lr_patience : float, int
        ReduceLROnPlateau on the validation loss.
    patience : int | None
        Early-stopping patience in epochs without improvement of the validation loss (``None``: off).
        The weights of the best epoch are restored at the end.
    valid_size : float
        Fraction of the training windows held out (stratified) for validation when ``fit`` gets no
        ``X_valid``; ``0`` trains without validation (the training loss drives the schedule).
    net_params : dict | None
        Architecture arguments of :class:`~myovox.models.speechnet.SpeechNet` (not the signal ones).
    standardize : bool
        Scale each channel to zero mean and unit variance with training-set statistics.
    random_state : int | numpy.random.RandomState | numpy.random.Generator | None
        Seed of initialisation, splitting, shuffling and dropout (same seed, same weights). A
        ``RandomState`` or ``Generator`` is drawn from (each ``fit`` then draws new seeds);
        ``None`` draws fresh entropy.
    n_threads : int | "auto" | None
        Torch CPU threads during fit/predict. ``"auto"`` (default) uses the cores other processes
        leave idle, at most torch's setting (measured on a shared 2-core CPU: a second thread was
        1.5x faster when the machine was idle and 1.5-3x slower when another process kept a core
        busy); other processes' load is the smaller of the 1-minute load average (less this
        process's share) and the tasks runnable at the moment, so an idle machine gets all its
        cores even while the load average still shows work that has ended; ``None`` leaves
        torch's setting. Results do not depend on it beyond float rounding,
        but training amplifies rounding: a seed gives bitwise the same weights for a given thread
        count, and ``"auto"`` may pick another count on a busier machine, so pin an integer
        (e.g. 1) for exactly reproducible runs.
    fast : bool
        Use the fast CPU path (identical mathematics; about 3x the training throughput of the
        plain module on a 2-core machine, see docs/benchmarks.md).
    verbose : bool | str | int | None
        Logging during ``fit`` and ``fine_tune`` (MNE's convention: ``True``/``"info"`` logs one
        line per epoch, ``False``/``"warning"`` only warnings, ``None`` follows the myovox logger's
        level, see :func:`myovox.set_log_level`); a progress bar over epochs is shown on a
        terminal unless the level is above INFO.

    Attributes
    ----------
    classes_ : ndarray
        Class labels.
    net_ : SpeechNet
        The trained network.
    history_ : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``train_acc``, ``valid_loss``, ``valid_acc``, ``lr``, ``time_s``.
    best_epoch_ : int
        Epoch (1-based) whose weights were kept.
    n_channels_in_, n_times_in_ : int
        Input shape seen in ``fit``.
    n_features_in_ : int
        ``X.shape[1]`` seen in ``fit`` (scikit-learn's convention): the number of channels of
        3-D windows, the window length of single-channel 2-D ones.
    n_threads_used_ : int
        Torch threads of the last fit/fine_tune call (predicting changes no attribute).

    Notes
    -----
    ``X`` is windows shaped ``(n_windows, n_channels, n_times)``; a 2-D ``X`` ``(n_windows,
    n_times)`` is windows of a single channel. Predicting needs the channel count (and, for 2-D
    input, the window length) seen in ``fit``; 3-D windows may be longer than in ``fit`` (the
    network pools over time). scikit-learn's estimator checks run on this class
    (``tests/unit/models/test_sklearn_checks.py`` lists the few that cannot apply, with reasons).
    """

    def __init__(
        self,
        n_epochs: int = 100,
        batch_size: int = 32,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        lr_factor: float = 0.1,
        lr_patience: int = 2,
        patience: int | None = 10,
        valid_size: float = 0.2,
        net_params: dict | None = None,
        standardize: bool = False,
        random_state: Any = None,
        n_threads: int | str | None = "auto",
        fast: bool = True,
        verbose: bool | str | int | None = None,
    ) -> None:
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.lr_factor = lr_factor
        self.lr_patience = lr_patience
        self.patience = patience
        self.valid_size = valid_size
        self.net_params = net_params
        self.standardize = standardize
        self.random_state = random_state
        self.n_threads = n_threads
        self.fast = fast
        self.verbose = verbose

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]  # sklearn.utils.Tags (scikit-learn >= 1.6)
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True  # windows (n_windows, n_channels, n_times)
        tags.input_tags.two_d_array = True  # (n_windows, n_times): windows of one channel
        return tags

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        check_int("n_epochs", self.n_epochs, minimum=0)
        check_int("batch_size", self.batch_size, minimum=1)
        check_positive("lr", self.lr)
        check_positive("weight_decay", self.weight_decay, allow_zero=True)
        check_positive("lr_factor", self.lr_factor)
        check_int("lr_patience", self.lr_patience, minimum=0)
        if self.patience is not None:
            check_int("patience", self.patience, minimum=1)
        check_positive("valid_size", self.valid_size, allow_zero=True)
        if self.valid_size >= 1:
            raise ValidationError(
                f"Invalid value for 'valid_size': expected a fraction in [0, 1), got {self.valid_size!r}."
            )
        rs = self.random_state
        if not (
            rs is None
            or isinstance(rs, (np.random.RandomState, np.random.Generator))
            or (isinstance(rs, numbers.Integral) and not isinstance(rs, bool))
        ):
            raise ValidationError(
                f"Invalid value for 'random_state': expected an int, a numpy RandomState or "
                f"Generator, or None, got {rs!r}."
            )
        if self.n_threads is not None and self.n_threads != "auto":
            check_int("n_threads", self.n_threads, minimum=1)
        if self.net_params is not None:
            if not isinstance(self.net_params, dict):
                raise ValidationError(
                    f"Invalid value for 'net_params': expected a dict, got {type(self.net_params).__name__}."
                )
            from .speechnet import SpeechNet

            allowed = [
                p
                for p in inspect.signature(SpeechNet.__init__).parameters
                if p not in ("self", "n_channels", "n_times", "n_classes")
            ]
            for key in self.net_params:
                if key not in allowed:
                    raise ValidationError(
                        f"Unknown SpeechNet parameter {key!r} in 'net_params' (known: "
                        f"{', '.join(allowed)}).{did_you_mean(key, allowed)}"
                    )

    def _check_X(self, X: Any, *, fitted: bool, name: str = "X", as_3d: bool = True) -> np.ndarray:
        """Windows as float32 ``(n_windows, n_channels, n_times)``; a 2-D ``X`` is one channel's windows
        (kept 2-D with ``as_3d=False``)."""
        from sklearn.utils.validation import check_array

        try:  # scikit-learn's checks and messages: sparse, complex, empty, non-finite, 1-D ("Reshape your data")
            X = check_array(
                X, dtype=np.float32, allow_nd=True, ensure_min_samples=1, ensure_min_features=1, input_name=name
            )
        except ValueError as err:
            raise ValidationError(f"Invalid {name}: {err}") from err
        if X.ndim not in (2, 3):
            raise ValidationError(
                f"Invalid {name}: expected windows shaped (n_windows, n_channels, n_times) (or "
                f"(n_windows, n_times) for one channel), got an array with {X.ndim} dimension(s) "
                f"and shape {X.shape}."
            )
        if X.ndim == 3 and X.shape[2] == 0:
            raise ValidationError(f"Invalid {name}: windows of 0 samples (shape {X.shape}).")
        if (
            fitted
            and X.ndim == 2
            and self.n_channels_in_ == 1
            and self.n_times_in_ == self.n_features_in_
            and X.shape[1] != self.n_features_in_
        ):
            # fitted on 2-D windows of one channel: their length is X.shape[1] (scikit-learn's wording)
            raise ValidationError(
                f"{name} has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input (windows of one channel)."
            )
        if X.ndim == 2 and as_3d:
            X = X[:, None, :]
        if fitted and X.shape[1] != self.n_channels_in_:
            raise ValidationError(
                f"Invalid {name}: the model was fitted on {self.n_channels_in_} channels, got {X.shape[1]}."
            )
        if fitted and X.shape[2] < self._min_times():
            raise ValidationError(
                f"Invalid X: windows of {X.shape[2]} samples are too short for this SpeechNet "
                f"(needs >= {self._min_times()})."
            )
        return X

    def _min_times(self) -> int:
        pools = self.net_.get_config()["pools"]
        return int(np.prod(pools))

    # ------------------------------------------------------------------ torch plumbing
    @contextlib.contextmanager
    def _torch_ctx(self, seed: int | None = None, *, record: bool = False) -> Iterator[Any]:
        """Torch with this estimator's threads (and ``seed``); ``record``: note them in ``n_threads_used_``
        (fit and fine-tune only: predicting must not change the estimator)."""
        torch = _torch()
        old = torch.get_num_threads()
        if self.n_threads == "auto":
            torch.set_num_threads(_auto_threads(old))
        elif self.n_threads is not None:
            torch.set_num_threads(int(self.n_threads))
        if record:
            self.n_threads_used_ = torch.get_num_threads()
        try:
            if seed is None:
                yield torch
            else:
                with torch.random.fork_rng(devices=[]):
                    # the CPU generator only (what fork_rng restores): torch.manual_seed also queues a seed for
                    # CUDA, recording a stack trace, 1-4 ms per fit (a tenth of a small fit on the machine measured)
                    torch.random.default_generator.manual_seed(seed)
                    yield torch
        finally:
            torch.set_num_threads(old)

    def _forward(self, x: Any) -> Any:
        if self.fast:
            from .fast import fast_forward

            return fast_forward(self.net_, x)
        return self.net_(x)

    def _train_step(self, x: Any, y: Any) -> tuple[Any, Any] | None:
        """``(loss, logits)`` of one training step, the gradients written into ``.grad`` (replacing what was there),
        without autograd (the fast path's C kernels; autograd's results within float rounding), or ``None`` where it
        does not apply (nothing changed: the caller runs the step with autograd). Within :meth:`_train`'s loop, one
        :class:`~myovox.models._network_c.Stepper` serves every step (its checks made once per window shape)."""
        if not self.fast:
            return None
        stepper = self.__dict__.get("_loop_stepper")
        if stepper is None:
            from ._network_c import Stepper

            stepper = Stepper(self.net_)
        return stepper(x, y)

    def _prepare(self, X: np.ndarray) -> Any:
        torch = _torch()
        if getattr(self, "mean_", None) is not None:
            X = (X - self.mean_) / self.scale_
        X = np.ascontiguousarray(X, dtype=np.float32)
        with warnings.catch_warnings():
            # a read-only array (a memory map, a protocol's windows) is only read through this tensor: batches are
            # gathered by copies, and the forward passes read their slices
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable", category=UserWarning)
            return torch.from_numpy(X)

    def _seed(self, rng: np.random.RandomState) -> int:
        return int(rng.randint(0, 2**31 - 1))

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any, X_valid: Any = None, y_valid: Any = None) -> SpeechNetClassifier:
        """Train a new network on windows ``X`` ``(n, n_channels, n_times)`` and labels ``y``.

        ``X_valid, y_valid`` replace the internal stratified split when given. Logging and the
        progress bar over epochs follow ``verbose``.
        """
        with use_log_level(self.verbose):
            return self._fit(X, y, X_valid, y_valid)

    def _fit(self, X: Any, y: Any, X_valid: Any, y_valid: Any) -> SpeechNetClassifier:
        self._check_params()
        if y is None:
            raise ValidationError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        X = self._check_X(X, fitted=False, as_3d=False)
        n_features = X.shape[1]  # scikit-learn's n_features_in_, before one channel's 2-D windows become 3-D
        if X.ndim == 2:
            X = X[:, None, :]
        from sklearn.utils.validation import column_or_1d

        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if y.ndim != 1 or len(y) != len(X):
            raise ValidationError(f"Invalid y: expected {len(X)} labels in a 1-D array, got shape {y.shape}.")
        from sklearn.utils.multiclass import check_classification_targets

        try:
            check_classification_targets(y)
        except ValueError as err:  # continuous or multi-output targets
            raise ValidationError(f"Invalid y: {err}") from err
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValidationError(f"Invalid y: SpeechNet needs at least 2 classes, got {len(self.classes_)} class.")
        self.n_channels_in_, self.n_times_in_ = int(X.shape[1]), int(X.shape[2])
        self.n_features_in_ = int(n_features)
        rng = _random_state(self.random_state)
        Xv: np.ndarray | None
        yv: np.ndarray | None
        if X_valid is not None or y_valid is not None:
            if X_valid is None or y_valid is None:
                raise ValidationError("Pass both X_valid and y_valid, or neither.")
            Xv = Xv_checked = self._check_X(X_valid, fitted=False, name="X_valid")
            if Xv_checked.shape[1:] != X.shape[1:]:
                raise ValidationError(
                    f"Invalid X_valid: windows shaped {Xv_checked.shape[1:]}, expected {X.shape[1:]}."
                )
            yv = self._encode(y_valid, len(Xv_checked), "y_valid")
            yt, rows_t, rows_v = y_enc, None, None
        else:
            yt, yv, rows_t, rows_v = self._split(X, y_enc, self.valid_size, rng)
            Xv = None if yv is None else X
        if self.standardize:
            Xt = X if rows_t is None else X[rows_t]
            self.mean_ = Xt.mean(axis=(0, 2), keepdims=True)[0].astype(np.float32)
            self.scale_ = (Xt.std(axis=(0, 2), keepdims=True)[0] + 1e-12).astype(np.float32)
        else:
            self.mean_ = self.scale_ = None
        from .speechnet import SpeechNet

        seed = self._seed(rng)
        with self._torch_ctx(seed, record=True) as torch:
            self.net_ = SpeechNet(self.n_channels_in_, self.n_times_in_, len(self.classes_), **(self.net_params or {}))
            params = list(self.net_.parameters())
            self.history_: list[dict[str, float]] = []
            self._train(
                torch,
                params,
                X,
                yt,
                Xv,
                yv,
                rows=(rows_t, rows_v),
                n_epochs=self.n_epochs,
                lr=self.lr,
                mode="all",
                seed=seed,
                verbose=self.verbose,
            )
        return self

    def _encode(self, y: Any, n: int, name: str) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != n:
            raise ValidationError(f"Invalid {name}: expected {n} labels in a 1-D array, got shape {y.shape}.")
        unknown = sorted(set(y.tolist()) - set(self.classes_.tolist()))
        if unknown:
            raise ValidationError(
                f"Invalid {name}: labels {unknown[:5]} were not seen in fit (classes: {self.classes_.tolist()})."
            )
        return np.searchsorted(self.classes_, y)

    def _split(
        self, X: np.ndarray, y: np.ndarray, valid_size: float, rng: np.random.RandomState
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """The stratified validation split as ``(y_train, y_valid, train_rows, valid_rows)``: the windows are
        ``X[train_rows]`` and ``X[valid_rows]``; ``(y, None, None, None)`` where there is no split (all of ``X``
        trains). Rows, not copies: training gathers its batches from ``X`` (a copy of 80 % of the windows took
        ~4 % of a 14 x 700 benchmark fit on the machine measured, and that much memory)."""
        if not valid_size:
            return y, None, None, None
        counts = np.bincount(y, minlength=len(self.classes_))
        n_valid = int(np.ceil(valid_size * len(X)))
        why = None
        if len(X) - n_valid < 2 or n_valid < len(self.classes_):
            why = f"too few windows ({len(X)}) to hold out {100 * valid_size:g} % with {len(self.classes_)} classes"
        elif counts.min() < 2:
            why = f"class(es) {self.classes_[counts < 2].tolist()} have fewer than 2 windows"
        if why is not None:
            # few-shot data (a recorded session with one repetition): train on everything
            warnings.warn(
                f"No validation split ({why}): training on all {len(X)} windows without early stopping; "
                "the last epoch's weights are kept.",
                UserWarning,
                stacklevel=3,
            )
            return y, None, None, None
        from sklearn.model_selection import train_test_split

        idx_t, idx_v = train_test_split(
            np.arange(len(X)), test_size=valid_size, stratify=y, random_state=self._seed(rng)
        )
        return y[idx_t], y[idx_v], idx_t, idx_v

    def _evaluate(self, torch: Any, Xt: Any, yt: Any, rows: Any = None) -> tuple[float, float]:
        """Mean loss and accuracy on windows ``Xt`` (or ``Xt[rows]``) labelled ``yt``; within :meth:`_train`'s loop
        through its :class:`~myovox.models._network_c.Stepper` (bitwise :meth:`_forward`'s logits)."""
        from .fast import _EVAL_CHUNK

        stepper = self.__dict__.get("_loop_stepper")
        self.net_.eval()
        total, correct = 0.0, 0
        with torch.inference_mode():
            for i in range(0, len(yt), _EVAL_BATCH):
                xb = Xt[i : i + _EVAL_BATCH] if rows is None else Xt.index_select(0, rows[i : i + _EVAL_BATCH])
                logits = None if stepper is None else stepper.evaluate(xb, _EVAL_CHUNK)
                if logits is None:
                    logits = self._forward(xb)
                yb = yt[i : i + _EVAL_BATCH]
                total += float(torch.nn.functional.cross_entropy(logits, yb, reduction="sum"))
                correct += int((logits.argmax(1) == yb).sum())
        return total / len(yt), correct / len(yt)

    def _set_train_mode(self, mode: str) -> None:
        if mode == "head":  # frozen body: batch-norm statistics stay, dropout stays active
            self.net_.eval()
            self.net_.dropout.train()
        else:
            self.net_.train()

    def _train(
        self,
        torch: Any,
        params: list[Any],
        Xt: np.ndarray,
        yt: np.ndarray,
        Xv: np.ndarray | None,
        yv: np.ndarray | None,
        *,
        rows: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
        n_epochs: int,
        lr: float,
        mode: str,
        seed: int,
        verbose: bool | str | int | None,
    ) -> None:
        """Train on windows ``Xt`` labelled ``yt``, validate on ``Xv``, ``yv`` after each epoch (if given).

        ``rows``: the rows of ``Xt`` and of ``Xv`` that hold those windows (``None``: all), as ``_split`` gives them;
        ``Xv`` may be ``Xt`` itself."""
        Xt_t, yt_t = self._prepare(Xt), torch.from_numpy(np.asarray(yt, dtype=np.int64))
        rows_t, rows_v = (None if r is None else torch.from_numpy(np.asarray(r, dtype=np.int64)) for r in rows)
        Xv_t = yv_t = None
        if Xv is not None:
            Xv_t = Xt_t if Xv is Xt else self._prepare(Xv)
            yv_t = torch.from_numpy(np.asarray(yv, dtype=np.int64))
        F = torch.nn.functional
        with contextlib.ExitStack() as stack:
            grads = None  # the flat gradient buffer, where the parameters are views of one (fast path)
            if self.fast and len(params) > 1:
                params, grads = stack.enter_context(_flat_parameters(torch, params))
            opt = _adam(torch, params, lr, self.weight_decay, fused=self.fast)
            opt_step = _adam_step(torch, opt)  # opt.step itself unless a fused Adam over the flat buffer
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, mode="min", factor=self.lr_factor, patience=self.lr_patience
            )
            gen = torch.Generator().manual_seed(seed)
            n, bs = len(yt_t), int(self.batch_size)
            best_loss, best_state, bad = np.inf, None, 0
            start = len(self.history_)
            self.best_epoch_ = start
            # the epoch lines at INFO when asked for (verbose=True, "info", ...), else at DEBUG, so that a
            # run at INFO (`myovox -v evaluate`) is not flooded by every fold's epochs
            epoch_level = logging.DEBUG if verbose is None or verbose is False else logging.INFO
            bar = progress(
                range(n_epochs),
                desc="SpeechNet" if mode == "all" and not start else f"fine-tune ({mode})",
                unit="epoch",
                disable=None,
            )
            if self.fast:  # the loop's step (see _train_step), dropped with the loop
                from ._network_c import Stepper

                self._loop_stepper = Stepper(self.net_)
                stack.callback(self.__dict__.pop, "_loop_stepper", None)
            for epoch in bar:
                t0 = time.perf_counter()
                self._set_train_mode(mode)
                perm = torch.randperm(n, generator=gen)
                seen = []  # each step's loss, logits and targets, summed after the epoch's steps (see below)
                for i in range(0, n, bs):
                    idx = perm[i : i + bs]
                    xb = Xt_t.index_select(0, idx if rows_t is None else rows_t.index_select(0, idx))
                    yb = yt_t.index_select(0, idx)
                    step = self._train_step(xb, yb)  # without autograd: the gradients replaced, not added to
                    if step is None:
                        if grads is None:
                            opt.zero_grad(set_to_none=True)
                        else:
                            grads.zero_()
                        logits = self._forward(xb)
                        loss = F.cross_entropy(logits, yb)
                        loss.backward()
                    else:
                        loss, logits = step
                    opt_step()
                    seen.append((loss.detach(), logits.detach(), yb))
                # the epoch's sums in step order, as one run of small operations: each took 20-40 us between two
                # steps' kernels (their code and data evicted from the caches) against 2-10 us here (measured)
                loss_sum = torch.zeros(())
                correct = torch.zeros((), dtype=torch.int64)
                with torch.no_grad():
                    for loss, logits, yb in seen:
                        loss_sum += loss * len(yb)
                        correct += (logits.argmax(1) == yb).sum()
                row = {"epoch": start + epoch + 1, "train_loss": float(loss_sum) / n, "train_acc": int(correct) / n}
                if Xv_t is not None:
                    row["valid_loss"], row["valid_acc"] = self._evaluate(torch, Xv_t, yv_t, rows_v)
                    monitor = row["valid_loss"]
                else:
                    row["valid_loss"] = row["valid_acc"] = float("nan")
                    monitor = row["train_loss"]
                row["lr"] = opt.param_groups[0]["lr"]
                sched.step(monitor)
                row["time_s"] = time.perf_counter() - t0
                self.history_.append(row)
                if monitor < best_loss:
                    best_loss, bad = monitor, 0
                    self.best_epoch_ = row["epoch"]
                    # a real copy: the live tensors keep changing (the reference's checkpoint aliased them)
                    best_state = {k: v.detach().clone() for k, v in self.net_.state_dict().items()}
                else:
                    bad += 1
                bar.set_postfix(loss=f"{row['train_loss']:.3f}", val=f"{row['valid_loss']:.3f}")
                logger.log(
                    epoch_level,
                    "epoch %d: train loss %.4f acc %.3f, valid loss %.4f acc %.3f, lr %.2g",
                    row["epoch"],
                    row["train_loss"],
                    row["train_acc"],
                    row["valid_loss"],
                    row["valid_acc"],
                    row["lr"],
                )
                if self.patience is not None and bad >= self.patience:
                    logger.debug("early stopping after epoch %d (best %d)", row["epoch"], self.best_epoch_)
                    break
            bar.close()
            if best_state is not None:
                self.net_.load_state_dict(best_state)
            self.net_.eval()

    # ------------------------------------------------------------------ predict
    def _logits(self, X: Any) -> np.ndarray:
        """Class logits ``(n_windows, n_classes)``, float64; changes no attribute of the estimator."""
        check_is_fitted(self, "net_")
        X = self._check_X(X, fitted=True)
        with self._torch_ctx() as torch:
            xt = self._prepare(X)
            self.net_.eval()  # already so after fit and fine_tune; kept in case a caller switched it
            out = []
            with torch.inference_mode():
                for i in range(0, len(xt), _EVAL_BATCH):
                    out.append(self._forward(xt[i : i + _EVAL_BATCH]).numpy())
        return np.concatenate(out).astype(np.float64)

    def decision_function(self, X: Any) -> np.ndarray:
        """Class logits, shape ``(n_windows, n_classes)``; with 2 classes, scikit-learn's shape
        ``(n_windows,)``: the logit of ``classes_[1]`` minus that of ``classes_[0]``."""
        z = self._logits(X)
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (softmax of the logits), columns in ``classes_`` order."""
        z = self._logits(X)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log of :meth:`predict_proba` (log-softmax of the logits)."""
        z = self._logits(X)
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels."""
        z = self._logits(X)
        return self.classes_[np.argmax(z, axis=1)]

    # ------------------------------------------------------------------ adaptation
    def fine_tune(
        self,
        X: Any,
        y: Any = None,
        *,
        n_epochs: int = 50,
        strategy: str = "all",
        valid_size: float = 0.3,
        lr: float | None = None,
        verbose: bool | str | int | None = None,
    ) -> SpeechNetClassifier:
        """Continue training the fitted network on new windows; returns ``self``.

        Parameters
        ----------
        X, y : array-like
            New windows and labels (``y`` is ignored by ``strategy="bn"``).
        n_epochs : int
            Maximum epochs (early stopping and the LR schedule apply as in ``fit``).
        strategy : {"all", "head", "bn"}
            ``"all"`` trains every layer (SilentWear's incremental fine-tuning); ``"head"`` only the
            linear classifier (batch-norm statistics frozen); ``"bn"`` only re-estimates the batch-norm
            running statistics on ``X`` (no labels, no gradient step).
        valid_size : float
            Stratified validation fraction of the new windows.
        lr : float | None
            Learning rate (``None``: the estimator's ``lr``).
        verbose : bool | str | int | None
            Logging level for this call (``None``: the estimator's ``verbose``).
        """
        verbose = self.verbose if verbose is None else verbose
        with use_log_level(verbose):
            return self._fine_tune(
                X, y, n_epochs=n_epochs, strategy=strategy, valid_size=valid_size, lr=lr, verbose=verbose
            )

    def _fine_tune(
        self,
        X: Any,
        y: Any,
        *,
        n_epochs: int,
        strategy: str,
        valid_size: float,
        lr: float | None,
        verbose: bool | str | int | None,
    ) -> SpeechNetClassifier:
        check_is_fitted(self, "net_")
        check_option("strategy", strategy, _FINE_TUNE_STRATEGIES)
        X = self._check_X(X, fitted=True)
        if strategy == "bn":
            self._adapt_bn(X)
            return self
        check_int("n_epochs", n_epochs, minimum=0)
        check_positive("valid_size", valid_size, allow_zero=True)
        lr = self.lr if lr is None else check_positive("lr", lr)
        y_enc = self._encode(y, len(X), "y")
        rng = _random_state(self.random_state, offset=1 + len(self.history_))
        yt, yv, rows_t, rows_v = self._split(X, y_enc, valid_size, rng)
        seed = self._seed(rng)
        with self._torch_ctx(seed, record=True) as torch:
            head = set(map(id, self.net_.classifier.parameters()))
            params = [p for p in self.net_.parameters() if strategy == "all" or id(p) in head]
            frozen = [p for p in self.net_.parameters() if id(p) not in set(map(id, params))]
            try:
                for p in frozen:
                    p.requires_grad_(False)
                self._train(
                    torch,
                    params,
                    X,
                    yt,
                    None if yv is None else X,
                    yv,
                    rows=(rows_t, rows_v),
                    n_epochs=n_epochs,
                    lr=lr,
                    mode=strategy,
                    seed=seed,
                    verbose=verbose,
                )
            finally:
                for p in frozen:
                    p.requires_grad_(True)
        return self

    def _adapt_bn(self, X: np.ndarray) -> None:
        """Replace batch-norm running statistics by those of ``X`` (cumulative average over batches)."""
        with self._torch_ctx(record=True) as torch:
            xt = self._prepare(X)
            bns = [m for m in self.net_.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
            saved = [m.momentum for m in bns]
            try:
                for m in bns:
                    m.reset_running_stats()
                    m.momentum = None  # cumulative moving average
                self.net_.train()
                bs = max(int(self.batch_size), 2)
                with torch.no_grad():
                    for i in range(0, len(xt), bs):
                        xb = xt[i : i + bs]
                        if len(xb) > 1 or i == 0:
                            self.net_(xb)
            finally:
                for m, mom in zip(bns, saved, strict=True):
                    m.momentum = mom
                self.net_.eval()
