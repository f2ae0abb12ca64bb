"""Reference face models the project writes itself: a crude image embedder and a toy face detector.

They exist so that the kiosk, its tests and a technician's bench can run the real LiteRT
interpreter end to end without downloading a model (none is shipped or fetched). They are
real ``.tflite`` files, written with the TFLite schema's object API that ships inside
ai-edge-litert (``ai_edge_litert.schema_py_generated``), and follow the contracts of
``appliance.inference.face_embedder``. **They are not a face recogniser and not a face
detector.**

- Embedder (``face_embedder.tflite``): input ``[1, 112, 112, 3]`` float32 ->
  AVERAGE_POOL_2D 7x7 stride 7 (a 16 x 16 colour thumbnail) -> RESHAPE ``[1, 768]`` ->
  FULLY_CONNECTED, a fixed random projection (seeded) to 128 -> L2_NORMALIZATION. Each
  projection row sums to zero over each colour channel, so the overall brightness of a
  channel drops out, and a small bias keeps a uniform image from giving a zero vector.
  The same photo always gives the same vector and different photos give different ones,
  but two photos of one person taken a minute apart are as far apart as their thumbnails
  are: it recognises images, not people.
- Detector (``face_detector.tflite``): input ``[1, 128, 128, 3]`` float32 ->
  AVERAGE_POOL_2D 32x32 (a 4 x 4 grid of mean colours) -> RESHAPE ``[1, 48]``, then two
  FULLY_CONNECTED paths: scores ``[1, 9]``, one per fixed window (each 2 x 2 grid cells,
  half the image's side), from how far the window's mean colour is from the whole image's
  (FULLY_CONNECTED -> ABS -> FULLY_CONNECTED -> LOGISTIC); and boxes ``[1, 9, 4]``, the
  nine fixed windows (a FULLY_CONNECTED with zero weights whose bias holds them, then
  RESHAPE). A face in front of a plain background usually makes its window the most
  different; a uniform image scores about 0.12 everywhere. The scores come out before
  the boxes, so the caller must tell them apart by shape, as the contract says.

A deployment configures a trained face model instead (for example a MobileFaceNet or an
ArcFace model converted to TFLite, and a BlazeFace-style detector with its boxes decoded),
and HQ embeds the listed faces with that same model.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from appliance.errors import InferenceError
from appliance.inference.files import fsync_dir

EMBEDDER_FILE = "face_embedder.tflite"
DETECTOR_FILE = "face_detector.tflite"

EMBEDDER_SIZE = 112
EMBEDDER_POOL = 7
EMBEDDER_DIM = 128
EMBEDDER_SEED = 20261123
EMBEDDER_BIAS_NORM = 0.05  # small beside a photo's projection (norm ~1-5), so it only rescues uniform images

DETECTOR_SIZE = 128
DETECTOR_GRID = 4  # cells per side; a window is 2 x 2 cells
DETECTOR_GAIN = 8.0  # logit per unit of summed |window mean - image mean| over the three channels
DETECTOR_BIAS = -2.0  # logistic(-2) = 0.12: the score of a window no different from the image


def _schema() -> Any:
    if sys.byteorder != "little":
        # The tensors' bytes are written little-endian, as TFLite files are; on a big-endian
        # host the runtime would have to byte-swap them (flatbuffer_utils does, we do not).
        raise InferenceError("the reference models can only be written on a little-endian machine")
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError:
        raise InferenceError("writing the reference models needs ai-edge-litert (its TFLite schema module); "
                             "tflite-runtime does not ship it") from None
    return schema_py_generated


class _Builder:
    """Tensors, buffers and operators of one single-subgraph model, then packed to bytes."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self.tensors: list[Any] = []
        # Buffer 0 is the empty buffer every tensor without constant data points at.
        self.buffers: list[Any] = [_aligned_buffer(schema, None)]
        self.opcodes: list[int] = []
        self.operators: list[Any] = []

    def tensor(self, name: str, shape: list[int], dtype: str = "float32", data: np.ndarray | None = None,
               quantization: Any = None) -> int:
        schema = self.schema
        types = {"float32": schema.TensorType.FLOAT32, "int32": schema.TensorType.INT32,
                 "uint8": schema.TensorType.UINT8}
        buffer = 0
        if data is not None:
            array = np.ascontiguousarray(data, dtype=np.dtype(dtype).newbyteorder("<"))
            assert list(array.shape) == shape, (name, array.shape, shape)
            self.buffers.append(_aligned_buffer(schema, array.tobytes()))
            buffer = len(self.buffers) - 1
        self.tensors.append(_make(schema.TensorT, shape=shape, type=types[dtype], buffer=buffer, name=name,
                                  quantization=quantization))
        return len(self.tensors) - 1

    def op(self, builtin: int, inputs: list[int], outputs: list[int], options_type: int = 0,
           options: Any = None) -> None:
        if builtin not in self.opcodes:
            self.opcodes.append(builtin)
        self.operators.append(_make(
            self.schema.OperatorT, opcodeIndex=self.opcodes.index(builtin), inputs=inputs, outputs=outputs,
            builtinOptionsType=options_type, builtinOptions=options))

    def pack(self, inputs: list[int], outputs: list[int], description: str) -> bytes:
        import flatbuffers

        schema = self.schema
        codes = []
        for builtin in self.opcodes:
            # Builtin codes above 127 live only in builtinCode; the deprecated int8 field
            # must then say PLACEHOLDER_FOR_GREATER_OP_CODES (127).
            codes.append(_make(schema.OperatorCodeT, deprecatedBuiltinCode=min(builtin, 127),
                               builtinCode=builtin, version=1))
        subgraph = _make(schema.SubGraphT, tensors=self.tensors, inputs=inputs, outputs=outputs,
                         operators=self.operators, name="main")
        model = _make(schema.ModelT, version=3, operatorCodes=codes, subgraphs=[subgraph], description=description,
                      buffers=self.buffers)
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def _make(cls: Any, **fields: Any) -> Any:
    """An object of the schema's object API with ``fields`` set.

    LiteRT 2.x's generated classes take the fields as keyword arguments, 1.x's (the newest
    with a manylinux2014 aarch64 wheel) take none: setting them after construction suits both.
    """
    made = cls()
    for name, value in fields.items():
        if not hasattr(made, name):
            raise InferenceError(f"this LiteRT's TFLite schema has no field {cls.__name__}.{name}")
        setattr(made, name, value)
    return made


@lru_cache(maxsize=1)
def _aligned_buffer_class(schema: Any) -> type:
    """A BufferT whose data starts on a 16-byte boundary, as the TFLite converter writes
    them, so float kernels read aligned weights straight from the mapped file."""

    class AlignedBuffer(schema.BufferT):
        def Pack(self, builder: Any) -> int:  # noqa: N802 (the flatbuffers object API's name)
            offset = None
            if self.data is not None:
                builder.StartVector(1, len(self.data), 16)
                builder.head = builder.head - len(self.data)
                builder.Bytes[builder.Head():builder.Head() + len(self.data)] = self.data
                offset = builder.EndVector()
            schema.BufferStart(builder)
            if offset is not None:
                schema.BufferAddData(builder, offset)
            return schema.BufferEnd(builder)

    return AlignedBuffer


def _aligned_buffer(schema: Any, data: bytes | None) -> Any:
    return _make(_aligned_buffer_class(schema), data=data)


def embedder_weights(size: int = EMBEDDER_SIZE, dim: int = EMBEDDER_DIM,
                     seed: int = EMBEDDER_SEED) -> tuple[np.ndarray, np.ndarray]:
    """(weights [dim, cells * 3], bias [dim]) of the embedder's projection: seeded Gaussian
    rows, each made to sum to zero over every colour channel, and a small fixed bias."""
    rng = np.random.default_rng(seed)
    cells = (size // EMBEDDER_POOL) ** 2
    weights = rng.standard_normal((dim, cells, 3))
    # Zero sum per channel: a brightness change of a whole channel (lighting, white balance)
    # adds the same amount to every input of that channel and so drops out.
    weights -= weights.mean(axis=1, keepdims=True)
    weights = (weights / np.sqrt(cells * 3)).reshape(dim, cells * 3)
    bias = rng.standard_normal(dim)
    bias *= EMBEDDER_BIAS_NORM / np.linalg.norm(bias)
    return weights.astype(np.float32), bias.astype(np.float32)


def embedder_bytes(size: int = EMBEDDER_SIZE, dim: int = EMBEDDER_DIM, quantized_input: bool = False) -> bytes:
    """The reference embedder as a .tflite flatbuffer (see the module docstring).

    ``size`` (a multiple of 7) and ``dim`` change its input side and embedding length, and
    ``quantized_input`` makes its input uint8 (scale 1/128, zero point 128, then
    DEQUANTIZE), like a quantized MobileFaceNet: the tests use them to show that the kiosk
    reads sizes and types from the model.
    """
    if size % EMBEDDER_POOL or size < EMBEDDER_POOL:
        raise ValueError(f"embedder size must be a multiple of {EMBEDDER_POOL}, got {size}")
    schema = _schema()
    ops, options = schema.BuiltinOperator, schema.BuiltinOptions
    side = size // EMBEDDER_POOL
    flat = side * side * 3
    weights, bias = embedder_weights(size, dim)
    b = _Builder(schema)
    if quantized_input:
        image = b.tensor("image", [1, size, size, 3], "uint8",
                         quantization=_make(schema.QuantizationParametersT, scale=[1 / 128], zeroPoint=[128]))
        real = b.tensor("image_real", [1, size, size, 3])
        b.op(ops.DEQUANTIZE, [image], [real])
    else:
        image = real = b.tensor("image", [1, size, size, 3])
    pooled = b.tensor("thumbnail", [1, side, side, 3])
    shape = b.tensor("flat_shape", [2], "int32", np.array([1, flat]))
    flat_t = b.tensor("flat", [1, flat])
    w = b.tensor("projection", [dim, flat], data=weights)
    bias_t = b.tensor("projection_bias", [dim], data=bias)
    projected = b.tensor("projected", [1, dim])
    embedding = b.tensor("embedding", [1, dim])
    b.op(ops.AVERAGE_POOL_2D, [real], [pooled], options.Pool2DOptions, _make(
        schema.Pool2DOptionsT, padding=schema.Padding.VALID, strideW=EMBEDDER_POOL, strideH=EMBEDDER_POOL,
        filterWidth=EMBEDDER_POOL, filterHeight=EMBEDDER_POOL))
    b.op(ops.RESHAPE, [pooled, shape], [flat_t], options.ReshapeOptions,
         _make(schema.ReshapeOptionsT, newShape=[1, flat]))
    b.op(ops.FULLY_CONNECTED, [flat_t, w, bias_t], [projected], options.FullyConnectedOptions,
         _make(schema.FullyConnectedOptionsT))
    b.op(ops.L2_NORMALIZATION, [projected], [embedding], options.L2NormOptions, _make(schema.L2NormOptionsT))
    return b.pack([image], [embedding], "kiosk reference embedder: crude image embedding, NOT a face recogniser")


def detector_windows() -> np.ndarray:
    """The detector's nine fixed boxes [9, 4] (ymin, xmin, ymax, xmax, normalised), row by row."""
    step = 1.0 / DETECTOR_GRID
    boxes = [(row * step, col * step, (row + 2) * step, (col + 2) * step)
             for row in range(DETECTOR_GRID - 1) for col in range(DETECTOR_GRID - 1)]
    return np.array(boxes, dtype=np.float32)


def detector_bytes() -> bytes:
    """The reference detector as a .tflite flatbuffer (see the module docstring)."""
    schema = _schema()
    ops, options = schema.BuiltinOperator, schema.BuiltinOptions
    grid, cells = DETECTOR_GRID, DETECTOR_GRID * DETECTOR_GRID
    pool = DETECTOR_SIZE // grid
    windows = [(row, col) for row in range(grid - 1) for col in range(grid - 1)]
    n = len(windows)
    # Difference of each window's mean colour from the image's, per channel: [n * 3, cells * 3].
    diff: npt.NDArray[np.float32] = np.zeros((n, 3, grid, grid, 3), dtype=np.float32)
    for i, (row, col) in enumerate(windows):
        for channel in range(3):
            diff[i, channel, :, :, channel] -= 1.0 / cells
            diff[i, channel, row:row + 2, col:col + 2, channel] += 1.0 / 4
    diff = diff.reshape(n * 3, cells * 3)
    # Sum of the three channels' |differences| of each window, scaled into a logit.
    gain = np.zeros((n, n * 3), dtype=np.float32)
    for i in range(n):
        gain[i, i * 3:i * 3 + 3] = DETECTOR_GAIN
    b = _Builder(schema)
    image = b.tensor("image", [1, DETECTOR_SIZE, DETECTOR_SIZE, 3])
    pooled = b.tensor("grid", [1, grid, grid, 3])
    shape = b.tensor("flat_shape", [2], "int32", np.array([1, cells * 3]))
    flat = b.tensor("flat", [1, cells * 3])
    diff_w = b.tensor("window_minus_image", [n * 3, cells * 3], data=diff)
    diff_b = b.tensor("window_minus_image_bias", [n * 3], data=np.zeros(n * 3))
    diffs = b.tensor("differences", [1, n * 3])
    magnitudes = b.tensor("magnitudes", [1, n * 3])
    gain_w = b.tensor("gain", [n, n * 3], data=gain)
    gain_b = b.tensor("gain_bias", [n], data=np.full(n, DETECTOR_BIAS))
    logits = b.tensor("logits", [1, n])
    scores = b.tensor("scores", [1, n])
    box_w = b.tensor("box_weights", [n * 4, cells * 3], data=np.zeros((n * 4, cells * 3)))
    box_b = b.tensor("box_bias", [n * 4], data=detector_windows().reshape(-1))
    box_flat = b.tensor("boxes_flat", [1, n * 4])
    box_shape = b.tensor("boxes_shape", [3], "int32", np.array([1, n, 4]))
    boxes = b.tensor("boxes", [1, n, 4])
    b.op(ops.AVERAGE_POOL_2D, [image], [pooled], options.Pool2DOptions, _make(
        schema.Pool2DOptionsT, padding=schema.Padding.VALID, strideW=pool, strideH=pool, filterWidth=pool,
        filterHeight=pool))
    b.op(ops.RESHAPE, [pooled, shape], [flat], options.ReshapeOptions,
         _make(schema.ReshapeOptionsT, newShape=[1, cells * 3]))
    b.op(ops.FULLY_CONNECTED, [flat, diff_w, diff_b], [diffs], options.FullyConnectedOptions,
         _make(schema.FullyConnectedOptionsT))
    b.op(ops.ABS, [diffs], [magnitudes])
    b.op(ops.FULLY_CONNECTED, [magnitudes, gain_w, gain_b], [logits], options.FullyConnectedOptions,
         _make(schema.FullyConnectedOptionsT))
    b.op(ops.LOGISTIC, [logits], [scores])
    b.op(ops.FULLY_CONNECTED, [flat, box_w, box_b], [box_flat], options.FullyConnectedOptions,
         _make(schema.FullyConnectedOptionsT))
    b.op(ops.RESHAPE, [box_flat, box_shape], [boxes], options.ReshapeOptions,
         _make(schema.ReshapeOptionsT, newShape=[1, n, 4]))
    # Scores first, boxes second: the contract identifies outputs by shape, never by order.
    return b.pack([image], [scores, boxes], "kiosk reference detector: fixed windows scored by colour contrast, "
                                            "NOT a face detector")


def write(directory: str | os.PathLike[str], force: bool = False) -> dict[str, Path]:
    """Write both reference models into ``directory`` (created if missing); returns
    {"embedder": path, "detector": path}.

    Raises InferenceError if a model file already exists and ``force`` is not set (nothing
    is written then), or if ai-edge-litert's schema module is missing.
    """
    directory = Path(directory)
    targets = {"embedder": directory / EMBEDDER_FILE, "detector": directory / DETECTOR_FILE}
    if not force:
        existing = [str(path) for path in targets.values() if path.exists()]
        if existing:
            raise InferenceError(f"refusing to overwrite {', '.join(existing)}: give --force to replace them")
    contents = {"embedder": embedder_bytes(), "detector": detector_bytes()}
    directory.mkdir(parents=True, exist_ok=True)
    for name, path in targets.items():
        # Written beside and renamed over, so a model being replaced is never half a file.
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(temporary, "wb") as handle:
            handle.write(contents[name])
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    fsync_dir(directory)
    return targets
