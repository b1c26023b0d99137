"""CTranslate2 `model.bin` headers: what a converted model is (its spec: Whisper, Transformer, decoder-only) and how
much memory it needs at a compute type — read from the file's variable table without loading the model.

The layout is CTranslate2's (`specs/model_spec.py` `_serialize`): u32 binary version, the spec name, u32 revision,
u32 variable count, then per variable its name, rank, u32 dims, u8 dtype, u32 byte count and the bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from .errors import ErrorCode, KioskError

DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")  # CTranslate2's DataType order
DTYPE_BYTES = {"float32": 4, "int8": 1, "int16": 2, "int32": 4, "float16": 2, "bfloat16": 2}
WORKING_SHARE = 0.2  # activations, encoder output, decoder caches: a share of the weights (an estimate)
PER_MODEL_BYTES = 96 << 20  # tokenizer, feature extractor, allocator caches: calibrated with `kiosk bench asr
#                             --model` (whisper-base int8 on the CPU: 180 MB RSS growth measured, 179 MB estimated)
CUDA_CONTEXT_BYTES = 400 << 20  # the CUDA context and cuBLAS/cuDNN handles, once per process on a GPU


@dataclass(frozen=True)
class Variable:
    name: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class ModelBin:
    spec: str  # e.g. "WhisperSpec", "TransformerSpec", "TransformerDecoderModelSpec"
    revision: int
    variables: tuple[Variable, ...]

    @property
    def params(self) -> int:
        return sum(v.numel for v in self.variables)

    def variable(self, name: str) -> Variable | None:
        return next((v for v in self.variables if v.name == name), None)


def read_model_bin(path: Path) -> ModelBin:
    """Read the header and variable table of a CTranslate2 model.bin (the weights are skipped, not read)."""
    path = Path(path)
    size = path.stat().st_size
    try:
        with path.open("rb") as fh:
            def u(fmt: str):
                raw = fh.read(struct.calcsize(fmt))
                if len(raw) != struct.calcsize(fmt):
                    raise ValueError("truncated")
                return struct.unpack("<" + fmt, raw)[0]

            def string() -> str:
                n = u("H")
                raw = fh.read(n)
                if len(raw) != n or not raw.endswith(b"\0"):
                    raise ValueError("bad string")
                return raw[:-1].decode("utf-8")

            version = u("I")
            if not 1 <= version <= 64:
                raise ValueError(f"binary version {version}")
            spec = string() if version >= 2 else ""
            revision = u("I") if version >= 2 else 1
            count = u("I")
            if count > 100_000:
                raise ValueError("variable count")
            variables = []
            for _ in range(count):
                name = string()
                rank = u("B")
                shape = tuple(u("I") for _ in range(rank))
                dtype_id = u("B")
                nbytes = u("I")
                if dtype_id >= len(DTYPES):
                    raise ValueError(f"dtype {dtype_id}")
                fh.seek(nbytes, 1)
                if fh.tell() > size:
                    raise ValueError("truncated")
                variables.append(Variable(name, shape, DTYPES[dtype_id]))
    except (ValueError, UnicodeDecodeError, struct.error) as e:
        raise KioskError(ErrorCode.MODEL_CORRUPT, f"{path} is not a CTranslate2 model.bin ({e})") from None
    return ModelBin(spec, revision, tuple(variables))


def _weight_bytes(compute_type: str) -> int:
    """Bytes per element of a weight matrix at a compute type (int8* quantises matrices to one byte)."""
    if compute_type.startswith("int8"):
        return 1
    if compute_type.startswith("int16"):
        return 2
    return 4 if compute_type == "float32" else 2


def _other_bytes(compute_type: str) -> int:
    """Bytes per element of everything else (biases, norms, scales): the activation type."""
    return 2 if compute_type.endswith("float16") or compute_type.endswith("bfloat16") else 4


def memory_need(model: ModelBin, compute_type: str) -> int:
    """Estimated bytes a loaded model holds on its device: weight matrices at the compute type, the rest at the
    activation type, plus WORKING_SHARE for what inference allocates and PER_MODEL_BYTES. An estimate, not a
    measurement: the README says how it compares with measured figures."""
    weights = sum(v.numel * (_weight_bytes(compute_type) if len(v.shape) >= 2 and v.dtype != "int32" else
                             _other_bytes(compute_type)) for v in model.variables)
    return int(weights * (1 + WORKING_SHARE)) + PER_MODEL_BYTES
