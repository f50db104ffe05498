"""``hf:`` — a transformers model built from its config alone, with no weights in memory.

Users audit big models before they export them: the int64/float64 state and the ``torch.export``
graph depend on the architecture and its config, not on the weights. So the model is built with its
parameters on the meta device (no storage) while buffers keep the values the model's own code gives
them — BERT's int64 ``position_ids`` arange, a rotary ``inv_freq`` — because the proofs read them.

The example inputs are ordinary CPU tensors: ``torch.export`` (torch 2.13, non-strict) fakifies the
meta parameters and the CPU inputs and buffers together, so no ``FakeTensorMode`` of trtready's own
is needed, and the program it returns is the one the FX audit reads for any module spec.

A config is data: ``config.json`` is parsed with :mod:`json` and handed to the config class that
transformers itself ships for its ``model_type``; nothing the config names is imported or run
(``auto_map``, custom code on the Hub, is refused; ``trust_remote_code`` is never passed).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtready.errors import BadInputError, MissingLibraryError, UnsafeInputError, UsageError
from trtready.load.detect import HF_PREFIX, hf_config_path
from trtready.load.files import open_binary

CONFIG_BYTES_MAX = 16 * 2**20  # the largest Hub config.json files are tens of kB
BATCH, SEQ = 2, 16  # example inputs, as the zoo calls text models (batch 2 × sequence 16)
BATCH_BOUND = (1, 4)
SEQ_FALLBACK = 512  # sequence bound when the config states no maximum position


@dataclass
class HfBuild:
    """What an ``hf:`` model was built from, for the report."""

    model_class: str
    chosen_by: str  # "architectures[0]" or "AutoModel for model_type '…'"
    model_type: str
    config: str | None  # the config.json read, None for a config class's defaults
    overrides: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"model_class": self.model_class, "chosen_by": self.chosen_by, "model_type": self.model_type,
                "config": self.config, "overrides": dict(self.overrides), "weights_loaded": False,
                "float_values_read": False, "exported": False, "verified": False}


@contextlib.contextmanager
def parameters_on_meta() -> Iterator[None]:
    """Every ``nn.Parameter`` registered inside goes to the meta device; buffers stay where made.

    What ``accelerate.init_empty_weights(include_buffers=False)`` does (accelerate is not a
    dependency of trtready, and transformers 5 builds on ``torch.device("meta")``, which takes buffers
    too). A layer's ``torch.empty`` is allocated and dropped at once (its pages are never touched), and
    initialisers then run on meta tensors at no cost.
    """
    import torch

    register = torch.nn.Module.register_parameter

    def to_meta(self: torch.nn.Module, name: str, param: torch.nn.Parameter | None) -> None:
        register(self, name, param)
        if param is not None and param.device.type != "meta":
            kind = type(param)
            self._parameters[name] = kind(param.to("meta"), requires_grad=param.requires_grad)

    torch.nn.Module.register_parameter = to_meta  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.nn.Module.register_parameter = register  # type: ignore[method-assign]


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``--hf-set KEY=VALUE``: VALUE read as JSON (``2``, ``true``, ``[1,2]``), else as a string."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise UsageError(f"--hf-set {item!r}: expected KEY=VALUE, e.g. num_hidden_layers=2")
        try:
            out[key.strip()] = json.loads(text)
        except ValueError:
            out[key.strip()] = text
    return out


def read_config(path: Path) -> dict[str, Any]:
    """``config.json`` as a dict: a regular file of bounded size holding a JSON object, no custom code."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise BadInputError(f"{HF_PREFIX}{path}: no such file") from None
    except OSError as e:
        raise BadInputError(f"{HF_PREFIX}{path}: cannot read ({e.strerror})") from e
    if not stat.S_ISREG(st.st_mode):
        raise BadInputError(f"{HF_PREFIX}{path}: not a regular file")
    if st.st_size > CONFIG_BYTES_MAX:
        raise BadInputError(f"{HF_PREFIX}{path}: {st.st_size} bytes is too large for a config.json "
                            f"(at most {CONFIG_BYTES_MAX})")
    try:
        with open_binary(path) as fh:
            data = json.loads(fh.read(CONFIG_BYTES_MAX + 1))
    except OSError as e:
        raise BadInputError(f"{HF_PREFIX}{path}: cannot read ({e.strerror})") from e
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise BadInputError(f"{HF_PREFIX}{path}: not valid JSON ({str(e).splitlines()[0][:120]})") from e
    if not isinstance(data, dict):
        raise BadInputError(f"{HF_PREFIX}{path}: a config must be a JSON object, not {type(data).__name__}")
    if "auto_map" in data:
        raise UnsafeInputError(f"{HF_PREFIX}{path}: the config names custom code (auto_map); trtready never runs "
                               "a config's code — audit a package.module:factory spec that builds the model instead")
    if not isinstance(data.get("model_type"), str) or not data["model_type"]:
        raise BadInputError(f"{HF_PREFIX}{path}: the config has no model_type")
    return data


def _transformers() -> Any:
    try:
        import transformers
    except ImportError as e:
        raise MissingLibraryError("hf: models need transformers (pip install 'trtready[hf]')") from e
    return transformers


def _config_class(transformers: Any, name: str, model: str) -> tuple[str, Any]:
    """``(model_type, config class)`` for a model type (``llama``) or config class name (``LlamaConfig``)."""
    from transformers.models.auto.configuration_auto import (  # type: ignore[attr-defined]
        CONFIG_MAPPING, CONFIG_MAPPING_NAMES)

    if name in CONFIG_MAPPING_NAMES:
        return name, CONFIG_MAPPING[name]
    by_class = {cls: mt for mt, cls in CONFIG_MAPPING_NAMES.items()}
    if name in by_class:
        return by_class[name], CONFIG_MAPPING[by_class[name]]
    raise BadInputError(f"{model}: unknown model_type {name[:80]!r} (transformers {transformers.__version__} "
                        "has no config class for it)")


def _model_class(transformers: Any, config: Any, data: dict[str, Any], model: str) -> tuple[Any, str, list[str]]:
    """The config's ``architectures[0]`` when transformers has that class, else its AutoModel class."""
    from transformers import PreTrainedModel
    from transformers.models.auto.modeling_auto import MODEL_MAPPING

    notes: list[str] = []
    archs = data.get("architectures")
    name = archs[0] if isinstance(archs, list) and archs and isinstance(archs[0], str) else None
    if name is not None and name.isidentifier() and not name.startswith("_"):
        try:
            cls = getattr(transformers, name, None)
        except Exception:  # transformers' lazy module imports the model file on access
            cls = None
        wanted = getattr(cls, "config_class", None)
        if isinstance(cls, type) and issubclass(cls, PreTrainedModel) and isinstance(wanted, type) \
                and isinstance(config, wanted):
            return cls, "architectures[0]", notes
        notes.append(f"architectures[0] {name[:80]!r} is not a transformers class for this config: AutoModel used")
    try:
        return MODEL_MAPPING[type(config)], f"AutoModel for model_type {config.model_type!r}", notes
    except KeyError:
        raise BadInputError(f"{model}: transformers has no model class for model_type {config.model_type!r}") from None


def _text_config(config: Any) -> Any:
    getter = getattr(config, "get_text_config", None)
    return getter() if callable(getter) else config


def load_hf(model: str, overrides: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any], list[str], list[str], HfBuild]:
    """Build ``model`` (``hf:…``) without weights: ``(module, example kwargs, --dynamic, notes, build)``."""
    import torch

    overrides = dict(overrides or {})
    path = hf_config_path(model)
    data: dict[str, Any] = read_config(path) if path is not None else {}
    name = data["model_type"] if path is not None else model[len(HF_PREFIX):]
    if not name:
        raise UsageError(f"{model!r}: expected hf:PATH/config.json, hf:FOLDER or hf:MODEL_TYPE (e.g. hf:llama)")
    transformers = _transformers()
    model_type, config_class = _config_class(transformers, name, model)
    kwargs = {k: v for k, v in data.items() if k not in ("model_type", "transformers_version", "architectures")}
    kwargs.update(overrides)
    try:
        with _quiet_transformers(transformers):
            config = config_class(**kwargs)
    except Exception as e:  # a config class validates its own fields, each in its own way
        raise BadInputError(f"{model}: {config_class.__name__} rejects the config ({_first(e)})") from e
    if hasattr(config, "use_cache"):
        config.use_cache = False  # a DynamicCache output is no pytree: torch.export cannot return it
    cls, chosen_by, notes = _model_class(transformers, config, data, model)
    try:
        with _quiet_transformers(transformers), parameters_on_meta():
            module = cls(config).eval()
    except Exception as e:
        raise BadInputError(f"{model}: cannot build {cls.__name__} from the config ({_first(e)})") from e
    params = list(inspect.signature(module.forward).parameters)
    if "input_ids" not in params:
        raise BadInputError(f"{model}: {cls.__name__}.forward takes no input_ids; a config-only audit builds text "
                            "inputs only (give a package.module:factory spec for this model)")
    text = _text_config(config)
    vocab = int(getattr(text, "vocab_size", 0) or 0)
    if vocab < 1:
        raise BadInputError(f"{model}: the config states no vocab_size")
    gen = torch.Generator().manual_seed(0)
    example = {"input_ids": torch.randint(0, vocab, (BATCH, SEQ), generator=gen)}
    if "attention_mask" in params:
        example["attention_mask"] = torch.ones(BATCH, SEQ, dtype=torch.int64)
    seq_max = next((int(v) for k in ("max_position_embeddings", "n_positions", "max_seq_len")
                    if isinstance(v := getattr(text, k, None), int) and v >= SEQ), None)
    if seq_max is None:
        seq_max = SEQ_FALLBACK
        notes.append(f"the config states no max_position_embeddings: sequence bounded by {SEQ_FALLBACK} "
                     "(--dynamic sets another bound)")
    dynamic = [f"{n}:0=batch[{BATCH_BOUND[0]}:{BATCH_BOUND[1]}],1=seq[2:{seq_max}]" for n in example]
    build = HfBuild(cls.__name__, chosen_by, model_type, str(path) if path is not None else None, overrides)
    return module, example, dynamic, notes, build


@contextlib.contextmanager
def _quiet_transformers(transformers: Any) -> Iterator[None]:
    """transformers logs warnings about config fields; the report says what matters."""
    import warnings

    logging = transformers.utils.logging
    level = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.set_verbosity(level)


def _first(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__

