"""identity: OUTPUT0 = INPUT0 (FP32, [B, 16]).

Benchmarked at thousands of requests per second, so execute() does the least
possible work: no logging, no config lookups, no dtype conversion.
"""

import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        get = pb_utils.get_input_tensor_by_name
        Tensor = pb_utils.Tensor
        Response = pb_utils.InferenceResponse
        return [Response(output_tensors=[Tensor("OUTPUT0", get(r, "INPUT0").as_numpy())]) for r in requests]
