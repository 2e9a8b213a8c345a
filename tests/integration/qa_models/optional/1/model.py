"""Stand-in for Triton QA's python_models/optional (max_batch_size 2 in the
QA script): both inputs optional; OUTPUT0 = INPUT0 + INPUT1 of those given,
OUTPUT1 = INPUT0 - INPUT1 (a missing input counts as 0)."""

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        out = []
        for r in requests:
            a = pb_utils.get_input_tensor_by_name(r, "INPUT0")
            b = pb_utils.get_input_tensor_by_name(r, "INPUT1")
            given = [t.as_numpy() for t in (a, b) if t is not None]
            zero = np.zeros_like(given[0]) if given else np.zeros((1, 1), np.int32)
            x = a.as_numpy() if a is not None else zero
            y = b.as_numpy() if b is not None else zero
            out.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("OUTPUT0", (x + y).astype(np.int32)),
                pb_utils.Tensor("OUTPUT1", (x - y).astype(np.int32))]))
        return out
