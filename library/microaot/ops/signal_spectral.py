"""TFLM's signal-library spectral custom operators (kernel family ``signal_spectral``), bit-exact with
TFLM: SignalWindow, SignalFftAutoScale, SignalRfft / SignalIrfft (int16, int32, float32; KISS FFT),
SignalEnergy, SignalFilterBank, SignalFilterBankSquareRoot, SignalFilterBankLog and the stateful
SignalFilterBankSpectralSubtraction (its noise estimate lives in the model's state buffer).

Options come from the operator's flexbuffer map. TFLM reads them by position in the map (keys sorted),
whatever the keys are; so does this module (a map with fewer entries than TFLM reads is refused).
The KISS FFT tables are computed here exactly as ``kiss_fft_alloc`` / ``kiss_fftr_alloc`` compute them
(double-precision cos/sin of the same phases, rounded the same way) and emitted as constants.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from microaot.ir.graph import Graph, Operator, Tensor, dtype_size
from microaot.ops import Lowering, LoweringContext, register

FAMILY = ("signal_spectral",)
_FFT_DTYPES = {"int16": ("s16", "int16_t"), "int32": ("s32", "int32_t"), "float32": ("f32", "float")}
_TYPE_CODES = {"float32": 0, "int32": 2, "int16": 7}  # tflite.TensorType values carried in the "T" option


def _count(t: Tensor) -> int:
    return int(math.prod(t.shape))


def _positional(options: Any, index: int) -> int:
    """Entry ``index`` of an options map in key order as an int (0 when absent or not an integer)."""
    if not isinstance(options, dict) or index >= len(options):
        return 0
    v = options[sorted(options)[index]]
    return int(v) if isinstance(v, (bool, int, np.integer)) else 0


def _option(ctx: LoweringContext, index: int, name: str) -> int:
    """The value TFLM reads for option ``name``: the ``index``-th value of the options map in key order
    (TFLM's FlexbufferWrapper reads by position, whatever the key), as an int32."""
    opts = ctx.options if isinstance(ctx.options, dict) else {}
    keys = sorted(opts)
    if index >= len(keys):
        raise ctx.unsupported(f"its custom options have {len(keys)} entries {keys}; TFLM reads {name!r} as entry "
                              f"{index} of the map (keys in sorted order), which is missing; re-export the model "
                              "with the TensorFlow signal ops")
    v = opts[keys[index]]
    if not isinstance(v, (bool, int, np.integer)):
        raise ctx.unsupported(f"custom option {keys[index]!r} (entry {index}, read as {name!r}) is {v!r}; TFLM reads "
                              "an integer there")
    return (int(v) + 2**31) % 2**32 - 2**31  # static_cast<int32_t> of the int64 TFLM reads


def _require(ctx: LoweringContext, t: Tensor, what: str, dtype: str, rank: int | None = None) -> None:
    if t.dtype != dtype:
        raise ctx.unsupported(f"{what} (tensor {t.index} {t.name!r}) is {t.dtype}, TFLM requires {dtype}")
    if rank is not None and len(t.shape) != rank:
        raise ctx.unsupported(f"{what} (tensor {t.index} {t.name!r}) has shape {list(t.shape)}, TFLM requires "
                              f"rank {rank}")


def _io_count(ctx: LoweringContext, n_in: int, n_out: int) -> None:
    if len(ctx.op.inputs) != n_in or len(ctx.op.outputs) != n_out:
        raise ctx.unsupported(f"has {len(ctx.op.inputs)} inputs and {len(ctx.op.outputs)} outputs, TFLM requires "
                              f"{n_in} and {n_out}")


# ---- KISS FFT tables ------------------------------------------------------------------------------


def kiss_factors(n: int) -> list[int]:
    """kf_factor: radix 4 first, then 2, then odd numbers up to sqrt(n), else n itself; (p, m) pairs."""
    out: list[int] = []
    p = 4
    floor_sqrt = math.floor(math.sqrt(float(n)))
    while True:
        while n % p:
            p = 2 if p == 4 else (3 if p == 2 else p + 2)
            if p > floor_sqrt:
                p = n
        n //= p
        out += [p, n]
        if n <= 1:
            return out


def _cexp(phase: float, dtype: str) -> tuple[Any, Any]:
    c, s = math.cos(phase), math.sin(phase)
    if dtype == "int16":
        return math.floor(0.5 + 32767 * c), math.floor(0.5 + 32767 * s)
    if dtype == "int32":
        return math.floor(0.5 + 2147483647 * c), math.floor(0.5 + 2147483647 * s)
    return np.float32(c), np.float32(s)


def kiss_twiddles(nfft: int, inverse: bool, dtype: str) -> list[Any]:
    """kiss_fft_alloc's twiddles of the complex FFT of length ``nfft``, interleaved (re, im)."""
    out: list[Any] = []
    for i in range(nfft):
        phase = -2 * math.pi * i / nfft
        if inverse:
            phase *= -1
        out += _cexp(phase, dtype)
    return out


def kiss_super_twiddles(fft_length: int, inverse: bool, dtype: str) -> list[Any]:
    """kiss_fftr_alloc's super twiddles (N / 4 of them for a real FFT of length N), interleaved."""
    nfft = fft_length // 2
    out: list[Any] = []
    for i in range(nfft // 2):
        phase = -math.pi * (float(i + 1) / nfft + 0.5)
        if inverse:
            phase *= -1
        out += _cexp(phase, dtype)
    return out


def _fft_length(ctx: LoweringContext, dtype: str) -> int:
    # TFLM picks the variant by the key "T" (absent: 0, float32), then reads fft_length at position 1
    t_opt = (ctx.options or {}).get("T", 0) if isinstance(ctx.options, dict) else 0
    t_code = int(t_opt) if isinstance(t_opt, (int, np.integer)) else -1
    n = _option(ctx, 1, "fft_length")
    if t_code != _TYPE_CODES[dtype]:
        raise ctx.unsupported(f"its option T = {t_code} does not match its {dtype} tensors")
    if n < 4 or n % 2:
        raise ctx.unsupported(f"fft_length {n} is not an even number >= 4 (TFLM's KISS FFT needs one)")
    factors = kiss_factors(n // 2)[0::2]
    if any(f not in (2, 3, 4, 5) for f in factors):
        raise ctx.unsupported(f"fft_length {n}: fft_length / 2 has the prime factor {max(factors)} > 5, which TFLM's "
                              "KISS FFT build cannot run (its generic butterfly has no scratch memory); use a "
                              "length whose half is a product of 2, 3 and 5")
    return int(n)


def _fft_params(ctx: LoweringContext, n: int, dtype: str, inverse: bool, rows: int, in_len: int,
                out_len: int) -> str:
    ctype = _FFT_DTYPES[dtype][1]
    factors = kiss_factors(n // 2)
    fac = ctx.const_array("kf_factors", "int32_t", np.array(factors, np.int32))
    np_dt = {"int16": np.int16, "int32": np.int32, "float32": np.float32}[dtype]
    tw = ctx.const_array("kf_twiddles", ctype, np.array(kiss_twiddles(n // 2, inverse, dtype), np_dt))
    stw = ctx.const_array("kf_super", ctype, np.array(kiss_super_twiddles(n, inverse, dtype), np_dt))
    return ctx.params("uaot_sig_fft_params_t", {
        "fft_length": n, "rows": rows, "in_length": in_len, "out_length": out_len,
        "num_factors": len(factors) // 2, "factors": fac, "twiddles": tw, "super_twiddles": stw,
        "inverse": int(inverse)})


def _fft_dtype(ctx: LoweringContext) -> str:
    x, y = ctx.input(0), ctx.output(0)
    if x.dtype not in _FFT_DTYPES or y.dtype != x.dtype:
        raise ctx.unsupported(f"tensors are {x.dtype} -> {y.dtype}; TFLM's FFT runs int16, int32 or float32 "
                              "(the same type in and out)")
    if not x.shape or len(x.shape) != len(y.shape):
        raise ctx.unsupported(f"input shape {list(x.shape)} and output shape {list(y.shape)} must have the same "
                              "rank (>= 1)")
    return x.dtype


def _rfft_scratch(graph: Graph, op: Operator) -> int:
    t = graph.tensors[op.inputs[0]]
    n = _positional(op.options, 1)  # fft_length
    return 2 * max(n, 0) * dtype_size(t.dtype) if t.dtype in _FFT_DTYPES else 0


def _irfft_scratch(graph: Graph, op: Operator) -> int:
    return _rfft_scratch(graph, op) // 2


def lower_rfft(ctx: LoweringContext) -> Lowering:
    _io_count(ctx, 1, 1)
    dtype = _fft_dtype(ctx)
    n = _fft_length(ctx, dtype)
    x, y = ctx.input(0), ctx.output(0)
    in_len, rows = x.shape[-1], _count(x) // max(x.shape[-1], 1)
    if in_len > n:
        raise ctx.unsupported(f"the input rows have {in_len} samples, more than fft_length {n}")
    if y.shape[-1] != 2 * (n // 2 + 1) or _count(y) != rows * y.shape[-1]:
        raise ctx.unsupported(f"output shape {list(y.shape)}: TFLM writes {rows} rows of {n // 2 + 1} complex "
                              f"values (last dimension {2 * (n // 2 + 1)})")
    p = _fft_params(ctx, n, dtype, False, rows, in_len, n // 2 + 1)
    sfx = _FFT_DTYPES[dtype][0]
    return Lowering(families=FAMILY, call=f"uaot_sig_rfft_{sfx}({p}, {ctx.in_ptr(0)}, {ctx.out_ptr(0)}, "
                                          f"{ctx.scratch_ptr})")


def lower_irfft(ctx: LoweringContext) -> Lowering:
    _io_count(ctx, 1, 1)
    dtype = _fft_dtype(ctx)
    n = _fft_length(ctx, dtype)
    x, y = ctx.input(0), ctx.output(0)
    bins = n // 2 + 1
    rows = _count(x) // max(x.shape[-1], 1)
    if x.shape[-1] != 2 * bins:
        raise ctx.unsupported(f"input shape {list(x.shape)}: its last dimension must be {2 * bins} (fft_length "
                              f"{n}: {bins} complex values per row)")
    if y.shape[-1] != n or _count(y) != rows * n:
        raise ctx.unsupported(f"output shape {list(y.shape)}: TFLM writes {rows} rows of fft_length {n} samples")
    p = _fft_params(ctx, n, dtype, True, rows, bins, n)
    sfx = _FFT_DTYPES[dtype][0]
    return Lowering(families=FAMILY, call=f"uaot_sig_irfft_{sfx}({p}, {ctx.in_ptr(0)}, {ctx.out_ptr(0)}, "
                                          f"{ctx.scratch_ptr})")


# ---- the other operators --------------------------------------------------------------------------


def lower_window(ctx: LoweringContext) -> Lowering:
    _io_count(ctx, 2, 1)
    shift = _option(ctx, 0, "shift")
    x, w, y = ctx.input(0), ctx.input(1), ctx.output(0)
    _require(ctx, x, "input", "int16")
    _require(ctx, w, "weights", "int16", 1)
    _require(ctx, y, "output", "int16")
    if not x.shape or y.shape != x.shape:
        raise ctx.unsupported(f"input shape {list(x.shape)} and output shape {list(y.shape)} must be equal")
    if w.shape[0] <= 0 or _count(x) % w.shape[0]:
        raise ctx.unsupported(f"the input has {_count(x)} samples, not a multiple of the {w.shape[0]} window weights")
    if not 0 <= shift <= 31:
        raise ctx.unsupported(f"shift {shift} is outside [0, 31]")
    p = ctx.params("uaot_sig_window_params_t", {"size": _count(x), "weight_size": w.shape[0], "shift": shift})
    return Lowering(families=FAMILY, call=f"uaot_sig_window_s16({p}, {ctx.in_ptr(0)}, {ctx.in_ptr(1)}, "
                                          f"{ctx.out_ptr(0)})")


def lower_fft_auto_scale(ctx: LoweringContext) -> Lowering:
    _io_count(ctx, 1, 2)
    x, y, s = ctx.input(0), ctx.output(0), ctx.output(1)
    _require(ctx, x, "input", "int16", 1)
    _require(ctx, y, "output", "int16", 1)
    _require(ctx, s, "scale bits output", "int32", 0)
    if y.shape[0] > x.shape[0]:
        raise ctx.unsupported(f"the output has {y.shape[0]} elements, more than the input's {x.shape[0]}")
    return Lowering(families=FAMILY, call=f"uaot_sig_fft_auto_scale_s16({y.shape[0]}, {ctx.in_ptr(0)}, "
                                          f"{ctx.out_ptr(0)}, {ctx.out_ptr(1)})")


def lower_energy(ctx: LoweringContext) -> Lowering:
    _io_count(ctx, 1, 1)
    end, start = _option(ctx, 0, "end_index"), _option(ctx, 1, "start_index")
    x, y = ctx.input(0), ctx.output(0)
    _require(ctx, x, "input", "int16", 1)
    _require(ctx, y, "output", "uint32", 1)
    if not 0 <= start <= end <= y.shape[0] or 2 * end > x.shape[0]:
        raise ctx.unsupported(f"start_index {start} / end_index {end} do not fit the {x.shape[0] // 2} complex "
                              f"inputs and {y.shape[0]} outputs")
    return Lowering(families=FAMILY, call=f"uaot_sig_energy({y.shape[0]}, {start}, {end}, {ctx.in_ptr(0)}, "
                                          f"{ctx.out_ptr(0)})")


_FB_INPUTS = ("weights", "unweights", "channel frequency starts", "channel weight starts", "channel widths")


def _fb_channels(graph: Graph, op: Operator) -> int:
    return max(_positional(op.options, 0), 0)  # num_channels


def lower_filter_bank(ctx: LoweringContext) -> Lowering:
    _io_count(ctx, 6, 1)
    nch = _option(ctx, 0, "num_channels")
    x, y = ctx.input(0), ctx.output(0)
    _require(ctx, x, "input", "uint32", 1)
    _require(ctx, y, "output", "uint64", 1)
    cfg = [ctx.input(k) for k in range(1, 6)]
    for t, what in zip(cfg, _FB_INPUTS, strict=True):
        _require(ctx, t, what, "int16", 1)
    if nch <= 0 or y.shape[0] != nch:
        raise ctx.unsupported(f"num_channels {nch} does not match the output's {y.shape[0]} channels")
    for t, what in zip(cfg[2:], _FB_INPUTS[2:], strict=True):
        if t.shape[0] < nch + 1:
            raise ctx.unsupported(f"{what} (tensor {t.index}) has {t.shape[0]} entries, TFLM reads num_channels + "
                                  f"1 = {nch + 1}")
    if all(t.is_const for t in cfg[2:]):
        fs, ws, wd = (np.asarray(t.data).astype(np.int64).reshape(-1)[: nch + 1] for t in cfg[2:])
        for i in range(nch + 1):
            if wd[i] > 0 and (fs[i] < 0 or fs[i] + wd[i] > x.shape[0]):
                raise ctx.unsupported(f"channel {i} reads input bins [{fs[i]}, {fs[i] + wd[i]}), the input has "
                                      f"{x.shape[0]}")
            for t, what in zip(cfg[:2], _FB_INPUTS[:2], strict=True):
                if wd[i] > 0 and (ws[i] < 0 or ws[i] + wd[i] > t.shape[0]):
                    raise ctx.unsupported(f"channel {i} reads {what} [{ws[i]}, {ws[i] + wd[i]}), there are "
                                          f"{t.shape[0]}")
    p = ctx.params("uaot_sig_filter_bank_params_t", {
        "num_channels": nch, "weights": ctx.in_ptr(1), "unweights": ctx.in_ptr(2), "freq_starts": ctx.in_ptr(3),
        "weight_starts": ctx.in_ptr(4), "widths": ctx.in_ptr(5)})
    return Lowering(families=FAMILY, call=f"uaot_sig_filter_bank({p}, {ctx.in_ptr(0)}, {ctx.out_ptr(0)}, "
                                          f"{ctx.scratch_ptr})")


def lower_filter_bank_sqrt(ctx: LoweringContext) -> Lowering:
    _io_count(ctx, 2, 1)
    x, s, y = ctx.input(0), ctx.input(1), ctx.output(0)
    _require(ctx, x, "input", "uint64", 1)
    _require(ctx, s, "scale bits", "int32", 0)
    _require(ctx, y, "output", "uint32", 1)
    if y.shape[0] < x.shape[0]:
        raise ctx.unsupported(f"the output has {y.shape[0]} elements, fewer than the input's {x.shape[0]}")
    return Lowering(families=FAMILY, call=f"uaot_sig_filter_bank_sqrt({x.shape[0]}, {ctx.in_ptr(0)}, "
                                          f"{ctx.in_ptr(1)}, {ctx.out_ptr(0)})")


def lower_filter_bank_log(ctx: LoweringContext) -> Lowering:
    _io_count(ctx, 1, 1)
    bits, scale = _option(ctx, 0, "input_correction_bits"), _option(ctx, 1, "output_scale")
    x, y = ctx.input(0), ctx.output(0)
    _require(ctx, x, "input", "uint32", 1)
    _require(ctx, y, "output", "int16", 1)
    if y.shape[0] < x.shape[0]:
        raise ctx.unsupported(f"the output has {y.shape[0]} elements, fewer than the input's {x.shape[0]}")
    return Lowering(families=FAMILY, call=f"uaot_sig_filter_bank_log({x.shape[0]}, {scale & 0xFFFFFFFF}u, "
                                          f"{bits & 0xFFFFFFFF}u, {ctx.in_ptr(0)}, {ctx.out_ptr(0)})")


_SS_KEYS = ("alternate_one_minus_smoothing", "alternate_smoothing", "clamping", "min_signal_remaining",
            "num_channels", "one_minus_smoothing", "smoothing", "smoothing_bits", "spectral_subtraction_bits")


def _ss_state(graph: Graph, op: Operator) -> int:
    return 4 * max(_positional(op.options, _SS_KEYS.index("num_channels")), 0)


def lower_spectral_subtraction(ctx: LoweringContext) -> Lowering:
    _io_count(ctx, 1, 2)
    v = {k: _option(ctx, i, k) for i, k in enumerate(_SS_KEYS)}
    nch = v["num_channels"]
    x, y, ne = ctx.input(0), ctx.output(0), ctx.output(1)
    for t, what in ((x, "input"), (y, "output"), (ne, "noise estimate output")):
        _require(ctx, t, what, "uint32", 1)
        if t.shape[0] != nch:
            raise ctx.unsupported(f"{what} (tensor {t.index}) has {t.shape[0]} elements, num_channels is {nch}")
    # (no state pointer only where the lowering runs on placeholders, e.g. `microaot inspect`: the kernel would
    # refuse a NULL state with UAOT_ERR_ARG)
    state = ctx.state_ptr if ctx.state_ptr is not None else "(uint8_t *)0"
    fields: dict[str, Any] = {"num_channels": nch}
    for k in ("smoothing", "one_minus_smoothing", "alternate_smoothing", "alternate_one_minus_smoothing",
              "min_signal_remaining", "smoothing_bits", "spectral_subtraction_bits"):
        fields[k] = f"{v[k] & 0xFFFFFFFF}u"
    fields["clamping"] = int(bool(v["clamping"]))
    p = ctx.params("uaot_sig_spectral_subtraction_params_t", fields)
    return Lowering(families=FAMILY, call=f"uaot_sig_spectral_subtraction({p}, {ctx.in_ptr(0)}, {ctx.out_ptr(0)}, "
                                          f"{ctx.out_ptr(1)}, (uint32_t *){state})")


def _fb_scratch(graph: Graph, op: Operator) -> int:
    return 8 * (_fb_channels(graph, op) + 1)


register("CUSTOM:SignalWindow", dtypes=("int16",))(lower_window)
register("CUSTOM:SignalFftAutoScale", dtypes=("int16",))(lower_fft_auto_scale)
register("CUSTOM:SignalRfft", scratch=_rfft_scratch, dtypes=("int16", "int32", "float32"))(lower_rfft)
register("CUSTOM:SignalIrfft", scratch=_irfft_scratch, dtypes=("int16", "int32", "float32"))(lower_irfft)
register("CUSTOM:SignalEnergy", dtypes=("int16->uint32",))(lower_energy)
register("CUSTOM:SignalFilterBank", scratch=_fb_scratch, dtypes=("uint32->uint64",))(lower_filter_bank)
register("CUSTOM:SignalFilterBankSquareRoot", dtypes=("uint64->uint32",))(lower_filter_bank_sqrt)
register("CUSTOM:SignalFilterBankLog", dtypes=("uint32->int16",))(lower_filter_bank_log)
register("CUSTOM:SignalFilterBankSpectralSubtraction", state=_ss_state,
         dtypes=("uint32",))(lower_spectral_subtraction)
