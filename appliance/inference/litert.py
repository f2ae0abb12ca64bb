"""The LiteRT/TFLite runtime seam: which interpreter package is used, and loading a model into it.

Two packages ship the same ``Interpreter`` API: ``ai-edge-litert`` (LiteRT, the current
name; wheels for x86-64 and aarch64, numpy 2) and ``tflite-runtime`` (the old name; its
last release, 2.14, cannot run with numpy 2). ai-edge-litert is tried first, tflite-runtime
is the fallback for boards that only have it. Nothing else in the kiosk imports either.
"""

from __future__ import annotations

import hashlib
import os
import threading
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from appliance.errors import InferenceError

# (distribution on PyPI, module that holds Interpreter), in the order they are tried.
RUNTIMES = (("ai-edge-litert", "ai_edge_litert.interpreter"), ("tflite-runtime", "tflite_runtime.interpreter"))
FILE_IDENTIFIER = b"TFL3"  # bytes 4-8 of every TFLite flatbuffer
MAX_THREADS = 4


@lru_cache(maxsize=1)
def _runtime() -> tuple[str, str, Any]:
    """(distribution, version, Interpreter class) of the first runtime that imports."""
    import importlib

    failures = []
    for distribution, module_name in RUNTIMES:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            failures.append(f"{distribution}: {exc}")
            continue
        except OSError as exc:
            # Installed, but its shared library does not load: ai-edge-litert's manylinux wheel
            # takes libstdc++ from the system, which a minimal root file system may lack.
            failures.append(f"{distribution} is installed but its library does not load ({exc}; "
                            "install the system's libstdc++6)")
            continue
        try:
            version = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            version = getattr(module, "__version__", "unknown")
        return distribution, version, module.Interpreter
    raise InferenceError("no LiteRT/TFLite runtime can be loaded (pip install ai-edge-litert; tflite-runtime "
                         "also works with numpy 1): " + "; ".join(failures))


def runtime_info() -> dict[str, str]:
    """{"runtime": distribution name, "version": its version} of the runtime in use.

    Raises InferenceError when neither ai-edge-litert nor tflite-runtime can be imported.
    """
    distribution, version, _ = _runtime()
    return {"runtime": distribution, "version": version}


def load(path: str | os.PathLike[str], threads: int = 1) -> Any:
    """An interpreter for the model at ``path`` with its tensors allocated.

    ``threads`` (1-4) is how many CPU threads the kernels may use. Raises InferenceError
    when the file is missing, is not a TFLite model, or the runtime cannot build it (an
    operator it does not have), and when no runtime is installed or loads.
    """
    path = Path(path)
    if not 1 <= threads <= MAX_THREADS:
        raise InferenceError(f"inference threads must be 1-{MAX_THREADS}, got {threads}")
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except FileNotFoundError:
        raise InferenceError(f"model file {path} does not exist") from None
    except IsADirectoryError:
        raise InferenceError(f"model file {path} is a directory, not a .tflite file") from None
    except OSError as exc:
        raise InferenceError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    # The runtime would say much the same, but only after logging a flatbuffer verifier
    # error on stderr; a wrong file (a JPEG, an ONNX model) deserves one plain sentence.
    if len(head) < 8 or head[4:8] != FILE_IDENTIFIER:
        raise InferenceError(f"{path} is not a TFLite model (no {FILE_IDENTIFIER.decode()} file identifier): "
                             "give a .tflite file")
    _, _, interpreter_class = _runtime()
    try:
        interpreter = interpreter_class(model_path=str(path), num_threads=threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise InferenceError(f"{path} is not a TFLite model this runtime can run: {exc}") from None
    return interpreter


def sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a model file, which names the model that made an embedding.

    Raises InferenceError if the file cannot be read.
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise InferenceError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    return digest.hexdigest()


class Model:
    """One loaded model: its interpreter, the lock that serialises it, its input and outputs.

    Interpreters are not thread-safe (the input and output tensors are shared state), so
    every ``run`` holds the model's own lock; two models run concurrently.
    """

    def __init__(self, path: str | os.PathLike[str], threads: int = 1) -> None:
        self.path = Path(path)
        self.interpreter = load(self.path, threads)
        self.lock = threading.Lock()
        inputs = self.interpreter.get_input_details()
        if len(inputs) != 1:
            raise InferenceError(f"{self.path} has {len(inputs)} inputs; a face model has one image input")
        self.input = inputs[0]
        self.outputs = self.interpreter.get_output_details()

    def run(self, tensor: Any) -> list[Any]:
        """The model's outputs (numpy arrays, copies) for one input tensor, in the model's output order.

        Raises InferenceError if the runtime refuses the tensor or fails while invoking.
        """
        with self.lock:
            try:
                self.interpreter.set_tensor(self.input["index"], tensor)
                self.interpreter.invoke()
                return [self.interpreter.get_tensor(detail["index"]).copy() for detail in self.outputs]
            except (ValueError, RuntimeError) as exc:
                raise InferenceError(f"running {self.path.name} failed: {exc}") from None
