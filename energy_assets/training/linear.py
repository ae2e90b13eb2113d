"""A ridge regression on the forecaster's numeric inputs, for blending with the trees.

Trees cannot extrapolate: a level outside what their leaves saw comes out as the nearest leaf's.
A linear model on the same log-ratio inputs can, so the forecaster may blend its output with the
trees' (`linear_blend`); measured in docs/decisions/0011. Pure numpy: standardised columns
(missing values at the column mean, i.e. 0 after standardising), closed-form ridge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Ridge:
    columns: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The model's output (the forecaster's log-ratio) for the rows of X."""
        return _standardised(X, self) @ self.coef + self.intercept

    def to_dict(self) -> dict:
        return {
            "columns": list(self.columns),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Ridge:
        return cls(
            tuple(d["columns"]),
            np.asarray(d["mean"], dtype=float),
            np.asarray(d["scale"], dtype=float),
            np.asarray(d["coef"], dtype=float),
            float(d["intercept"]),
        )


def _standardised(X: pd.DataFrame, model: Ridge) -> np.ndarray:
    values = X[list(model.columns)].to_numpy(dtype="float64")
    z = (values - model.mean) / model.scale
    return np.where(np.isfinite(z), z, 0.0)


def fit_ridge(X: pd.DataFrame, y: np.ndarray, alpha: float = 1e-3) -> Ridge:
    """Ridge on the numeric columns of X (categoricals left out) with penalty alpha per row
    (alpha * n on the standardised scale), intercept unpenalised."""
    columns = tuple(c for c in X.columns if pd.api.types.is_numeric_dtype(X[c]))
    values = X[list(columns)].to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(values, axis=0)
        scale = np.nanstd(values, axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    shell = Ridge(columns, mean, scale, np.zeros(len(columns)), 0.0)
    z = _standardised(X, shell)
    target = np.asarray(y, dtype="float64")
    intercept = float(target.mean())
    gram = z.T @ z + alpha * len(z) * np.eye(len(columns))
    coef = np.linalg.solve(gram, z.T @ (target - intercept))
    return Ridge(columns, mean, scale, coef, intercept)
