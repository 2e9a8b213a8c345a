"""Stand-in for Triton QA's graphdef_int32_int32_float32 (variable shape):
OUTPUT0 = INPUT0 - INPUT1 (INT32), OUTPUT1 = INPUT0 + INPUT1 (FP32)."""

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        get = pb_utils.get_input_tensor_by_name
        out = []
        for r in requests:
            a, b = get(r, "INPUT0").as_numpy(), get(r, "INPUT1").as_numpy()
            out.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("OUTPUT0", (a - b).astype(np.int32)),
                pb_utils.Tensor("OUTPUT1", (a + b).astype(np.float32))]))
        return out
