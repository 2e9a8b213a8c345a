"""optional_add: OUTPUT0 = INPUT0 (+ INPUT1 when given), GOT_INPUT1 = 1 or 0 (FP32 [B, 4], INT32 [B, 1])."""

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for r in requests:
            a = pb_utils.get_input_tensor_by_name(r, "INPUT0").as_numpy()
            b = pb_utils.get_input_tensor_by_name(r, "INPUT1")
            total = a if b is None else a + b.as_numpy()
            got = np.full((a.shape[0], 1), 0 if b is None else 1, dtype=np.int32)
            responses.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("OUTPUT0", total.astype(np.float32)),
                pb_utils.Tensor("GOT_INPUT1", got),
            ]))
        return responses
