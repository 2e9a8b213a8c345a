"""What the profiler needs to know about a model, independent of protocol."""

from __future__ import annotations

from dataclasses import dataclass

from perfanalyzer.errors import OptionError


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str             # KServe v2 name: FP32, INT64, BYTES, ...
    dims: tuple[int, ...]     # without the batch dimension; -1 = variable
    optional: bool = False    # model config `optional: true`: a request may leave it out

    def accepts(self, shape: tuple[int, ...]) -> bool:
        """Whether a concrete shape (no batch dim) fits these dims."""
        return len(shape) == len(self.dims) and all(m < 0 or m == g for m, g in zip(self.dims, shape, strict=True))


@dataclass(frozen=True)
class ModelSpec:
    name: str
    version: str
    platform: str
    max_batch_size: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    sequence: bool = False    # the config has sequence_batching: requests carry correlation IDs

    def check_batch_size(self, batch_size: int) -> None:
        if self.max_batch_size == 0 and batch_size > 1:
            raise OptionError(
                f"can not specify batch size > 1 as the model '{self.name}' does not support batching"
            )
        if self.max_batch_size > 0 and batch_size > self.max_batch_size:
            raise OptionError(f"expecting batch size <= {self.max_batch_size} for model '{self.name}'")

    def resolve_shapes(
        self, overrides: dict[str, tuple[int, ...]], strict: bool = True
    ) -> dict[str, tuple[int, ...]]:
        """Each input's dims (no batch dim), filling -1 from --shape.

        strict=False leaves a variable input without --shape as it is (-1 kept):
        JSON data may give its shape step by step."""
        known = {t.name for t in self.inputs}
        for name in overrides:
            if name not in known:
                raise OptionError(
                    f"--shape {name}: model '{self.name}' has no input named '{name}' "
                    f"(inputs: {', '.join(sorted(known))})"
                )
        shapes: dict[str, tuple[int, ...]] = {}
        for t in self.inputs:
            given = overrides.get(t.name)
            if given is None:
                if strict and any(d < 0 for d in t.dims):
                    raise OptionError(
                        f"input '{t.name}' has a variable dimension {list(t.dims)}: "
                        f"give its shape with --shape {t.name}:d1,d2,..."
                    )
                shapes[t.name] = t.dims
                continue
            if not t.accepts(given):
                # The server's words follow (perf_analyzer sends it and greps them).
                raise OptionError(
                    f"--shape {t.name}: {list(given)} is incompatible with the model's input shape {list(t.dims)} "
                    f"(the server would answer: unexpected shape for input '{t.name}' for model '{self.name}')"
                )
            shapes[t.name] = given
        return shapes
