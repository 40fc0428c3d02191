"""Accuracy and error metrics of a compiled model on a user's data (``microaot eval --inputs``).

Two comparisons, both over all samples:

- **vs TFLM** (the same quantized model run by TFLite Micro): how many samples are bit-exact.
- **vs a reference** (``--reference-model FLOAT.tflite`` run by TFLM, the float model the quantized one
  came from): the device's outputs are dequantized with the output tensor's scale and zero point, and
  compared with the reference's outputs, as STM32Cube.AI's validation does:

  - RMSE = sqrt(mean((ref - out)^2)), MAE = mean(|ref - out|) over every output value;
  - L2r = ||ref - out||_2 / ||ref||_2 (relative L2 error over every output value);
  - cosine = mean over samples of (ref . out) / (||ref|| ||out||) (1.0 when both are zero);
  - top-1 of the device and of the reference against ``--labels`` (classification: the argmax of the
    first output), their agreement (same top-1 class), and both confusion matrices
    (rows: true class, columns: predicted class).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class ErrorMetrics:
    rmse: float
    mae: float
    l2r: float
    cosine: float


@dataclass
class ClassMetrics:
    classes: int
    top1: float | None  # device vs labels
    reference_top1: float | None  # reference vs labels
    agreement: float | None  # device top-1 == reference top-1
    confusion: list[list[int]] | None = None  # device, rows: label, columns: prediction
    reference_confusion: list[list[int]] | None = None
    class_names: list[str] | None = None


@dataclass
class DataMetrics:
    samples: int
    bit_exact: int  # samples whose outputs equal TFLM's (same quantized model) byte for byte
    error: ErrorMetrics | None = None  # vs the reference model
    classification: ClassMetrics | None = None
    reference_model: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)

    def format_text(self) -> list[str]:
        lines = [f"  samples             : {self.samples} ({self.bit_exact} bit-exact with TFLM)"]
        e = self.error
        if e is not None:
            lines.append(f"  vs reference model  : RMSE {e.rmse:.6g}, MAE {e.mae:.6g}, L2r {e.l2r:.6g}, "
                         f"cosine {e.cosine:.6f}" + (f" ({self.reference_model})" if self.reference_model else ""))
        c = self.classification
        if c is not None:
            parts = []
            if c.top1 is not None:
                parts.append(f"top-1 {c.top1 * 100:.2f}%")
            if c.reference_top1 is not None:
                parts.append(f"reference top-1 {c.reference_top1 * 100:.2f}%")
            if c.agreement is not None:
                parts.append(f"agreement {c.agreement * 100:.2f}%")
            lines.append(f"  classification      : {', '.join(parts)} ({c.classes} classes)")
            if c.confusion is not None and c.classes <= 16:
                lines.append("  confusion (rows: label, columns: device's top-1):")
                names = c.class_names or [str(i) for i in range(c.classes)]
                w = max(5, *(len(n) for n in names))
                lines.append("    " + " " * w + "".join(f"{n[:w]:>{w + 1}}" for n in names))
                for n, row in zip(names, c.confusion, strict=True):
                    lines.append(f"    {n[:w]:>{w}}" + "".join(f"{v:>{w + 1}}" for v in row))
        lines += [f"  note                : {n}" for n in self.notes]
        return lines


def dequantize(y: np.ndarray, scale: float | None, zero_point: int) -> np.ndarray:
    """Float values of an output (integer outputs with a scale are dequantized)."""
    a = np.asarray(y)
    if a.dtype.kind in "iu" and scale:
        return (a.astype(np.float64) - zero_point) * scale
    return a.astype(np.float64)


def error_metrics(outputs: Sequence[np.ndarray], references: Sequence[np.ndarray]) -> ErrorMetrics:
    """Metrics over samples: ``outputs[i]`` and ``references[i]`` are one sample's values (any shape,
    same size)."""
    if len(outputs) != len(references) or not outputs:
        raise ValueError("need the same, non-zero number of outputs and references")
    o = np.concatenate([np.asarray(x, dtype=np.float64).reshape(-1) for x in outputs])
    r = np.concatenate([np.asarray(x, dtype=np.float64).reshape(-1) for x in references])
    if o.size != r.size:
        raise ValueError("outputs and references differ in size")
    d = r - o
    norm_r = float(np.linalg.norm(r))
    l2r = float(np.linalg.norm(d)) / norm_r if norm_r > 0 else (0.0 if not d.any() else float("inf"))
    cos = []
    for x, y in zip(outputs, references, strict=True):
        xv, yv = np.asarray(x, dtype=np.float64).reshape(-1), np.asarray(y, dtype=np.float64).reshape(-1)
        nx, ny = float(np.linalg.norm(xv)), float(np.linalg.norm(yv))
        cos.append(1.0 if nx == 0 and ny == 0 else (0.0 if nx == 0 or ny == 0 else float(xv @ yv) / (nx * ny)))
    return ErrorMetrics(rmse=float(np.sqrt(np.mean(d * d))), mae=float(np.mean(np.abs(d))), l2r=l2r,
                        cosine=float(np.mean(cos)))


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, classes: int) -> list[list[int]]:
    m = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(m, (labels, predicted), 1)
    return m.tolist()


def class_metrics(outputs: Sequence[np.ndarray], labels: np.ndarray | None,
                  references: Sequence[np.ndarray] | None = None,
                  class_names: list[str] | None = None) -> ClassMetrics:
    """Top-1 (argmax of each sample's first output) against ``labels`` and/or the references."""
    pred = np.array([int(np.argmax(np.asarray(y).reshape(-1))) for y in outputs], dtype=np.int64)
    classes = int(np.asarray(outputs[0]).size)
    ref_pred = (np.array([int(np.argmax(np.asarray(y).reshape(-1))) for y in references], dtype=np.int64)
                if references is not None else None)
    top1 = ref_top1 = None
    conf = ref_conf = None
    if labels is not None:
        labels = np.asarray(labels, dtype=np.int64)
        if labels.size and int(labels.max()) >= classes:
            raise ValueError(f"label {int(labels.max())} is not a class of an output of {classes} values")
        top1 = float(np.mean(pred == labels))
        conf = confusion_matrix(labels, pred, classes)
        if ref_pred is not None:
            ref_top1 = float(np.mean(ref_pred == labels))
            ref_conf = confusion_matrix(labels, ref_pred, classes)
    agreement = float(np.mean(pred == ref_pred)) if ref_pred is not None else None
    return ClassMetrics(classes=classes, top1=top1, reference_top1=ref_top1, agreement=agreement,
                        confusion=conf, reference_confusion=ref_conf, class_names=class_names)
