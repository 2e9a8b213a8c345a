"""Stand-in for Triton QA's graphdef_object_int32_int32 (variable shape):
strings holding integers in, OUTPUT0 = INPUT0 - INPUT1 and OUTPUT1 = INPUT0 +
INPUT1 out as INT32."""

import numpy as np
import triton_python_backend_utils as pb_utils


def _ints(t):
    return np.vectorize(lambda v: int(v.decode() if isinstance(v, bytes) else v), otypes=[np.int32])(t.as_numpy())


class TritonPythonModel:
    def execute(self, requests):
        get = pb_utils.get_input_tensor_by_name
        out = []
        for r in requests:
            a, b = _ints(get(r, "INPUT0")), _ints(get(r, "INPUT1"))
            out.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("OUTPUT0", a - b), pb_utils.Tensor("OUTPUT1", a + b)]))
        return out
