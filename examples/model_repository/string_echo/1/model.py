"""string_echo: OUTPUT0 = INPUT0 (BYTES, [B, 2]), LENGTH = each element's byte length (INT32)."""

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for r in requests:
            strings = pb_utils.get_input_tensor_by_name(r, "INPUT0").as_numpy()
            lengths = np.array([len(x) for x in strings.reshape(-1)], dtype=np.int32).reshape(strings.shape)
            responses.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("OUTPUT0", strings.astype(np.object_)),
                pb_utils.Tensor("LENGTH", lengths),
            ]))
        return responses
