"""Small .tflite models of TFLM's signal-library custom operators (``SignalWindow``, ``SignalRfft``, ...).

The operators are TFLite CUSTOM operators whose ``custom_options`` are a flexbuffer map (what the
TensorFlow signal ops write; TFLM reads the map's values by index, keys sorted). ``SignalModel``
builds one subgraph of such operators with tensors of any TFLite type the signal library uses
(int16, int32, uint32, uint64, float32), for the tests and examples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import flatbuffers
import numpy as np
import tflite
from flatbuffers import flexbuffers

_TYPES: dict[str, tuple[int, Any]] = {
    "int8": (tflite.TensorType.INT8, np.int8),
    "int16": (tflite.TensorType.INT16, np.int16),
    "int32": (tflite.TensorType.INT32, np.int32),
    "uint32": (tflite.TensorType.UINT32, np.uint32),
    "uint64": (tflite.TensorType.UINT64, np.uint64),
    "float32": (tflite.TensorType.FLOAT32, np.float32),
    "bool": (tflite.TensorType.BOOL, np.bool_),
}

# TensorType codes the signal ops carry in their "T" option (RFFT / IRFFT)
TYPE_CODES = {"int16": int(tflite.TensorType.INT16), "int32": int(tflite.TensorType.INT32),
              "float32": int(tflite.TensorType.FLOAT32)}


@dataclass
class _T:
    name: str
    shape: tuple[int, ...]
    dtype: str
    data: bytes | None


@dataclass
class _Op:
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: bytes


@dataclass
class SignalModel:
    """One subgraph of custom (and no builtin) operators."""

    tensors: list[_T] = field(default_factory=list)
    ops: list[_Op] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)

    def tensor(self, name: str, shape: Sequence[int], dtype: str, data: np.ndarray | None = None) -> int:
        raw = None
        if data is not None:
            arr = np.asarray(data).astype(_TYPES[dtype][1]).reshape(tuple(shape))
            raw = arr.astype(np.dtype(_TYPES[dtype][1]).newbyteorder("<")).tobytes()
        self.tensors.append(_T(name, tuple(int(d) for d in shape), dtype, raw))
        return len(self.tensors) - 1

    def input(self, name: str, shape: Sequence[int], dtype: str) -> int:
        i = self.tensor(name, shape, dtype)
        self.inputs.append(i)
        return i

    def const(self, name: str, data: np.ndarray, dtype: str) -> int:
        return self.tensor(name, np.shape(data), dtype, data)

    def op(self, name: str, inputs: Sequence[int], outputs: Sequence[int], options: Mapping[str, Any]) -> None:
        self.ops.append(_Op(name, tuple(inputs), tuple(outputs), bytes(flexbuffers.Dumps(dict(options)))))

    def to_bytes(self) -> bytes:
        b = flatbuffers.Builder(1024)
        names = list(dict.fromkeys(o.name for o in self.ops))
        buffers: list[int] = []
        consts = [t for t in self.tensors if t.data is not None]
        data_offs = []
        for t in consts:
            assert t.data is not None
            b.StartVector(1, len(t.data), 16)
            for byte in reversed(t.data):
                b.PrependByte(byte)
            data_offs.append(b.EndVector())
        tflite.BufferStart(b)
        buffers.append(tflite.BufferEnd(b))
        for off in data_offs:
            tflite.BufferStart(b)
            tflite.BufferAddData(b, off)
            buffers.append(tflite.BufferEnd(b))

        def ivec(start: Any, vals: Sequence[int]) -> int:
            start(b, len(vals))
            for v in reversed(vals):
                b.PrependInt32(int(v))
            return int(b.EndVector())

        def tvec(start: Any, offs: Sequence[int]) -> int:
            start(b, len(offs))
            for o in reversed(offs):
                b.PrependUOffsetTRelative(o)
            return int(b.EndVector())

        toffs = []
        ci = 0
        for t in self.tensors:
            nm = b.CreateString(t.name)
            sh = ivec(tflite.TensorStartShapeVector, t.shape)
            buf = 0
            if t.data is not None:
                ci += 1
                buf = ci
            tflite.TensorStart(b)
            tflite.TensorAddShape(b, sh)
            tflite.TensorAddType(b, _TYPES[t.dtype][0])
            tflite.TensorAddBuffer(b, buf)
            tflite.TensorAddName(b, nm)
            toffs.append(tflite.TensorEnd(b))
        ooffs = []
        for o in self.ops:
            ins = ivec(tflite.OperatorStartInputsVector, o.inputs)
            outs = ivec(tflite.OperatorStartOutputsVector, o.outputs)
            co = b.CreateByteVector(o.options)
            tflite.OperatorStart(b)
            tflite.OperatorAddOpcodeIndex(b, names.index(o.name))
            tflite.OperatorAddInputs(b, ins)
            tflite.OperatorAddOutputs(b, outs)
            tflite.OperatorAddCustomOptions(b, co)
            ooffs.append(tflite.OperatorEnd(b))
        sg_t = tvec(tflite.SubGraphStartTensorsVector, toffs)
        sg_i = ivec(tflite.SubGraphStartInputsVector, self.inputs)
        sg_o = ivec(tflite.SubGraphStartOutputsVector, self.outputs)
        sg_ops = tvec(tflite.SubGraphStartOperatorsVector, ooffs)
        sg_n = b.CreateString("main")
        tflite.SubGraphStart(b)
        tflite.SubGraphAddTensors(b, sg_t)
        tflite.SubGraphAddInputs(b, sg_i)
        tflite.SubGraphAddOutputs(b, sg_o)
        tflite.SubGraphAddOperators(b, sg_ops)
        tflite.SubGraphAddName(b, sg_n)
        sg = tflite.SubGraphEnd(b)
        code_offs = []
        for n in names:
            cn = b.CreateString(n)
            tflite.OperatorCodeStart(b)
            tflite.OperatorCodeAddDeprecatedBuiltinCode(b, tflite.BuiltinOperator.CUSTOM)
            tflite.OperatorCodeAddBuiltinCode(b, tflite.BuiltinOperator.CUSTOM)
            tflite.OperatorCodeAddCustomCode(b, cn)
            tflite.OperatorCodeAddVersion(b, 1)
            code_offs.append(tflite.OperatorCodeEnd(b))
        m_codes = tvec(tflite.ModelStartOperatorCodesVector, code_offs)
        m_sgs = tvec(tflite.ModelStartSubgraphsVector, [sg])
        m_bufs = tvec(tflite.ModelStartBuffersVector, buffers)
        desc = b.CreateString("microaot.testing.signal_models")
        tflite.ModelStart(b)
        tflite.ModelAddVersion(b, 3)
        tflite.ModelAddOperatorCodes(b, m_codes)
        tflite.ModelAddSubgraphs(b, m_sgs)
        tflite.ModelAddDescription(b, desc)
        tflite.ModelAddBuffers(b, m_bufs)
        b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
        return bytes(b.Output())


# -- one-operator models -------------------------------------------------------------------------


def window_model(shape: Sequence[int], weights: np.ndarray, shift: int) -> bytes:
    m = SignalModel()
    x = m.input("input", shape, "int16")
    w = m.const("weights", np.asarray(weights), "int16")
    y = m.tensor("output", shape, "int16")
    m.op("SignalWindow", [x, w], [y], {"shift": int(shift)})
    m.outputs = [y]
    return m.to_bytes()


def fft_auto_scale_model(n: int) -> bytes:
    m = SignalModel()
    x = m.input("input", (n,), "int16")
    y = m.tensor("output", (n,), "int16")
    s = m.tensor("scale_bits", (), "int32")
    m.op("SignalFftAutoScale", [x], [y, s], {})
    m.outputs = [y, s]
    return m.to_bytes()


def rfft_model(shape: Sequence[int], fft_length: int, dtype: str) -> bytes:
    m = SignalModel()
    x = m.input("input", shape, dtype)
    y = m.tensor("output", (*shape[:-1], (fft_length // 2 + 1) * 2), dtype)
    m.op("SignalRfft", [x], [y], {"T": TYPE_CODES[dtype], "fft_length": int(fft_length)})
    m.outputs = [y]
    return m.to_bytes()


def irfft_model(shape: Sequence[int], fft_length: int, dtype: str) -> bytes:
    """``shape``: the complex input's shape (last dimension = 2 x (fft_length / 2 + 1))."""
    m = SignalModel()
    x = m.input("input", shape, dtype)
    y = m.tensor("output", (*shape[:-1], fft_length), dtype)
    m.op("SignalIrfft", [x], [y], {"T": TYPE_CODES[dtype], "fft_length": int(fft_length)})
    m.outputs = [y]
    return m.to_bytes()


def energy_model(n_complex: int, start: int, end: int) -> bytes:
    m = SignalModel()
    x = m.input("input", (2 * n_complex,), "int16")
    y = m.tensor("output", (n_complex,), "uint32")
    m.op("SignalEnergy", [x], [y], {"end_index": int(end), "start_index": int(start)})
    m.outputs = [y]
    return m.to_bytes()


@dataclass(frozen=True)
class FilterBankConfig:
    """The constant tensors of SignalFilterBank (what TF's ``filter_bank`` op computes for a mel bank)."""

    weights: np.ndarray
    unweights: np.ndarray
    freq_starts: np.ndarray
    weight_starts: np.ndarray
    widths: np.ndarray

    @property
    def num_channels(self) -> int:
        return int(self.freq_starts.size) - 1


def random_filter_bank(rng: np.random.Generator, num_freqs: int, num_channels: int, *,
                       full_range: bool = False) -> FilterBankConfig:
    """Triangular-ish overlapping channels over ``num_freqs`` energy bins (channel 0 is TFLM's scratch one).
    ``full_range``: weights and unweights anywhere in int16, negative ones too (TFLM's uint64 products wrap)."""
    edges = np.sort(rng.choice(np.arange(1, num_freqs - 1), size=num_channels + 1, replace=False))
    starts, wstarts, widths = [], [], []
    pos = 0
    for i in range(num_channels + 1):
        s = int(edges[i - 1]) if i else int(edges[0]) - 1
        e = int(edges[i])
        width = max(1, e - s)
        starts.append(s)
        wstarts.append(pos)
        widths.append(width)
        pos += width
    weights = rng.integers(0, 4096, size=pos)
    unweights = 4096 - weights
    if full_range:
        weights, unweights = (rng.integers(-32768, 32768, size=pos) for _ in range(2))
    return FilterBankConfig(weights.astype(np.int16), unweights.astype(np.int16), np.array(starts, np.int16),
                            np.array(wstarts, np.int16), np.array(widths, np.int16))


def filter_bank_model(num_freqs: int, cfg: FilterBankConfig) -> bytes:
    m = SignalModel()
    x = m.input("input", (num_freqs,), "uint32")
    ins = [x]
    for nm in ("weights", "unweights", "freq_starts", "weight_starts", "widths"):
        ins.append(m.const(nm, getattr(cfg, nm), "int16"))
    y = m.tensor("output", (cfg.num_channels,), "uint64")
    m.op("SignalFilterBank", ins, [y], {"num_channels": cfg.num_channels})
    m.outputs = [y]
    return m.to_bytes()


def filter_bank_sqrt_model(n: int, scale_bits_const: int | None = None) -> bytes:
    """``scale_bits_const``: a constant scale-bits tensor, else a graph input (int32 scalar)."""
    m = SignalModel()
    x = m.input("input", (n,), "uint64")
    s = (m.input("scale_bits", (), "int32") if scale_bits_const is None
         else m.const("scale_bits", np.array(scale_bits_const, np.int32), "int32"))
    y = m.tensor("output", (n,), "uint32")
    m.op("SignalFilterBankSquareRoot", [x, s], [y], {})
    m.outputs = [y]
    return m.to_bytes()


def filter_bank_log_model(n: int, output_scale: int, input_correction_bits: int) -> bytes:
    m = SignalModel()
    x = m.input("input", (n,), "uint32")
    y = m.tensor("output", (n,), "int16")
    m.op("SignalFilterBankLog", [x], [y], {"input_correction_bits": int(input_correction_bits),
                                            "output_scale": int(output_scale)})
    m.outputs = [y]
    return m.to_bytes()


def spectral_subtraction_options(n: int, *, smoothing: int, alternate_smoothing: int, min_signal_remaining: int,
                                 smoothing_bits: int, spectral_subtraction_bits: int = 14,
                                 clamping: bool = False) -> dict[str, Any]:
    one = 1 << spectral_subtraction_bits
    return {"alternate_one_minus_smoothing": one - alternate_smoothing, "alternate_smoothing": alternate_smoothing,
            "clamping": bool(clamping), "min_signal_remaining": min_signal_remaining, "num_channels": n,
            "one_minus_smoothing": one - smoothing, "smoothing": smoothing, "smoothing_bits": smoothing_bits,
            "spectral_subtraction_bits": spectral_subtraction_bits}


def spectral_subtraction_model(n: int, options: Mapping[str, Any]) -> bytes:
    m = SignalModel()
    x = m.input("input", (n,), "uint32")
    y = m.tensor("output", (n,), "uint32")
    ne = m.tensor("noise_estimate", (n,), "uint32")
    m.op("SignalFilterBankSpectralSubtraction", [x], [y, ne], dict(options))
    m.outputs = [y, ne]
    return m.to_bytes()


def frontend_chain_model(rng: np.random.Generator, *, frame: int = 96, fft_length: int = 128,
                         num_channels: int = 12, shift: int = 12) -> bytes:
    """An audio-front-end-like chain: window -> fft auto scale -> rfft -> energy -> filter bank -> square root
    (by the auto-scale bits) -> spectral subtraction -> log, over int16 frames of ``frame`` samples."""
    m = SignalModel()
    x = m.input("frame", (frame,), "int16")
    win = (np.hanning(frame) * 4096).astype(np.int16)
    w = m.const("window", win, "int16")
    xw = m.tensor("windowed", (frame,), "int16")
    m.op("SignalWindow", [x, w], [xw], {"shift": shift})
    xs = m.tensor("scaled", (frame,), "int16")
    sb = m.tensor("scale_bits", (), "int32")
    m.op("SignalFftAutoScale", [xw], [xs, sb], {})
    nbins = fft_length // 2 + 1
    spec = m.tensor("spectrum", (2 * nbins,), "int16")
    m.op("SignalRfft", [xs], [spec], {"T": TYPE_CODES["int16"], "fft_length": fft_length})
    en = m.tensor("energy", (nbins,), "uint32")
    m.op("SignalEnergy", [spec], [en], {"end_index": nbins, "start_index": 0})
    cfg = random_filter_bank(rng, nbins, num_channels)
    fb_in = [en] + [m.const(nm, getattr(cfg, nm), "int16")
                    for nm in ("weights", "unweights", "freq_starts", "weight_starts", "widths")]
    fb = m.tensor("filter_bank", (num_channels,), "uint64")
    m.op("SignalFilterBank", fb_in, [fb], {"num_channels": num_channels})
    sq = m.tensor("sqrt", (num_channels,), "uint32")
    m.op("SignalFilterBankSquareRoot", [fb, sb], [sq], {})
    ss = m.tensor("subtracted", (num_channels,), "uint32")
    ne = m.tensor("noise_estimate", (num_channels,), "uint32")
    m.op("SignalFilterBankSpectralSubtraction", [sq], [ss, ne],
         spectral_subtraction_options(num_channels, smoothing=655, alternate_smoothing=655,
                                      min_signal_remaining=819, smoothing_bits=10))
    lg = m.tensor("log", (num_channels,), "int16")
    m.op("SignalFilterBankLog", [ss], [lg], {"input_correction_bits": 3, "output_scale": 1600})
    m.outputs = [lg, ne]
    return m.to_bytes()


def audio_stream_model(rng: np.random.Generator, *, frame: int = 64, step: int = 32, fft_length: int = 64,
                       num_channels: int = 8) -> bytes:
    """A streaming audio front end with every stateful signal operator, two inputs: ``audio`` [step] -> delay ->
    framer (frames [1, frame] + valid flag: outputs 2, 3); ``frame`` [frame] -> window -> fft auto scale -> rfft
    -> energy -> filter bank -> square root -> spectral subtraction -> PCAN -> log -> stacker (left and right
    context 1; stacked frames + valid flag: outputs 0, 1)."""
    m = SignalModel()
    x = m.input("audio", (step,), "int16")
    dl = m.tensor("delayed", (step,), "int16")
    m.op("SignalDelay", [x], [dl], {"delay_length": 5})
    frames = m.tensor("frames", (1, frame), "int16")
    fvalid = m.tensor("frames_valid", (), "bool")
    m.op("SignalFramer", [dl], [frames, fvalid], {"frame_size": frame, "frame_step": step, "prefill": False})
    fr = m.input("frame", (frame,), "int16")
    xw = m.tensor("windowed", (frame,), "int16")
    m.op("SignalWindow", [fr, m.const("window", (np.hanning(frame) * 4096).astype(np.int16), "int16")], [xw],
         {"shift": 12})
    xs = m.tensor("scaled", (frame,), "int16")
    sb = m.tensor("scale_bits", (), "int32")
    m.op("SignalFftAutoScale", [xw], [xs, sb], {})
    nbins = fft_length // 2 + 1
    spec = m.tensor("spectrum", (2 * nbins,), "int16")
    m.op("SignalRfft", [xs], [spec], {"T": TYPE_CODES["int16"], "fft_length": fft_length})
    en = m.tensor("energy", (nbins,), "uint32")
    m.op("SignalEnergy", [spec], [en], {"end_index": nbins, "start_index": 0})
    cfg = random_filter_bank(rng, nbins, num_channels)
    fb = m.tensor("filter_bank", (num_channels,), "uint64")
    m.op("SignalFilterBank", [en] + [m.const(nm, getattr(cfg, nm), "int16") for nm in
                                     ("weights", "unweights", "freq_starts", "weight_starts", "widths")],
         [fb], {"num_channels": num_channels})
    sq = m.tensor("sqrt", (num_channels,), "uint32")
    m.op("SignalFilterBankSquareRoot", [fb, sb], [sq], {})
    ss = m.tensor("subtracted", (num_channels,), "uint32")
    ne = m.tensor("noise_estimate", (num_channels,), "uint32")
    m.op("SignalFilterBankSpectralSubtraction", [sq], [ss, ne],
         spectral_subtraction_options(num_channels, smoothing=655, alternate_smoothing=655,
                                      min_signal_remaining=819, smoothing_bits=10))
    lut = m.const("pcan_lut", rng.integers(0, 32767, size=125).astype(np.int16), "int16")
    pc = m.tensor("pcan", (num_channels,), "uint32")
    m.op("SignalPCAN", [ss, ne, lut], [pc], {"snr_shift": 6})
    lg = m.tensor("log", (num_channels,), "int16")
    m.op("SignalFilterBankLog", [pc], [lg], {"input_correction_bits": 3, "output_scale": 1600})
    st = m.tensor("stacked", (3 * num_channels,), "int16")
    sv = m.tensor("stacked_valid", (), "bool")
    m.op("SignalStacker", [lg], [st, sv], {"num_channels": num_channels, "stacker_left_context": 1,
                                           "stacker_right_context": 1, "stacker_step": 1})
    m.outputs = [st, sv, frames, fvalid]
    return m.to_bytes()


def num_elements(shape: Sequence[int]) -> int:
    return math.prod(shape)
