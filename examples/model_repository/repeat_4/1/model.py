"""repeat_4 (decoupled): four responses OUTPUT0 = INPUT0 (FP32, [1]) per request, 1 ms apart, then the final flag."""

import time

import triton_python_backend_utils as pb_utils

RESPONSES = 4
GAP_S = 0.001


class TritonPythonModel:
    def execute(self, requests):
        for r in requests:
            sender = r.get_response_sender()
            value = pb_utils.get_input_tensor_by_name(r, "INPUT0").as_numpy()
            for i in range(RESPONSES):
                if i:
                    # Spaced so the first response arrives measurably before the last.
                    time.sleep(GAP_S)
                sender.send(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("OUTPUT0", value)]))
            sender.send(flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
        return None
