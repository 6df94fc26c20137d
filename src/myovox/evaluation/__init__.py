"""Evaluation: metrics, honest splits, the reference's protocols and reports.

Importing this package is light (numpy only); scikit-learn, joblib and matplotlib load when used.
"""

from .metrics import (
    accuracy,
    active_error,
    balanced_accuracy,
    confusion_matrix,
    instability,
    itr_wolpaw,
    macro_f1,
    rejection_rate,
    summarize,
)
from .protocols import (
    PROTOCOL_NAMES,
    PROTOCOLS,
    fewshot,
    fine_tune,
    global_protocol,
    inter_session,
    kfold,
    leave_one_out,
    run_protocol,
    train_from_scratch,
    transfer,
)
from .results import Result
from .splits import (
    Fold,
    LeakageError,
    check_no_leakage,
    leave_one_batch_out,
    leave_one_group_out,
    leave_one_session_out,
    progressive_batches,
    stratified_kfold,
    train_test_by_meta,
)

__all__ = [
    "PROTOCOLS",
    "PROTOCOL_NAMES",
    "Fold",
    "LeakageError",
    "Result",
    "accuracy",
    "active_error",
    "balanced_accuracy",
    "check_no_leakage",
    "confusion_matrix",
    "fewshot",
    "fine_tune",
    "global_protocol",
    "instability",
    "inter_session",
    "itr_wolpaw",
    "kfold",
    "leave_one_batch_out",
    "leave_one_group_out",
    "leave_one_out",
    "leave_one_session_out",
    "macro_f1",
    "progressive_batches",
    "rejection_rate",
    "run_protocol",
    "stratified_kfold",
    "summarize",
    "train_from_scratch",
    "train_test_by_meta",
    "transfer",
]
