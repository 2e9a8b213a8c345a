"""Stand-in for Triton QA's *_object_object_object models: strings holding
integers; OUTPUT0 = INPUT0 - INPUT1, OUTPUT1 = INPUT0 + INPUT1, as strings."""

import numpy as np
import triton_python_backend_utils as pb_utils


def _ints(t):
    return np.vectorize(lambda v: int(v.decode() if isinstance(v, bytes) else v), otypes=[np.int64])(t.as_numpy())


def _strings(a):
    return np.vectorize(lambda v: str(v).encode(), otypes=[np.object_])(a)


class TritonPythonModel:
    def execute(self, requests):
        get = pb_utils.get_input_tensor_by_name
        out = []
        for r in requests:
            a, b = _ints(get(r, "INPUT0")), _ints(get(r, "INPUT1"))
            out.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("OUTPUT0", _strings(a - b)), pb_utils.Tensor("OUTPUT1", _strings(a + b))]))
        return out
