"""sleep_2ms: OUTPUT0 = INPUT0 (FP32, [B, 1]), after time.sleep(0.002) per request."""

import time

import triton_python_backend_utils as pb_utils

SLEEP_S = 0.002


class TritonPythonModel:
    def execute(self, requests):
        get = pb_utils.get_input_tensor_by_name
        Tensor = pb_utils.Tensor
        responses = []
        for r in requests:
            # Per request, not per execute() call, so the service time stays
            # 2 ms/request even if Triton ever hands over several at once.
            time.sleep(SLEEP_S)
            responses.append(
                pb_utils.InferenceResponse(output_tensors=[Tensor("OUTPUT0", get(r, "INPUT0").as_numpy())])
            )
        return responses
