"""add_sub: OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1 (FP32, [16])."""

import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        get = pb_utils.get_input_tensor_by_name
        Tensor = pb_utils.Tensor
        responses = []
        for r in requests:
            a = get(r, "INPUT0").as_numpy()
            b = get(r, "INPUT1").as_numpy()
            responses.append(
                pb_utils.InferenceResponse(
                    output_tensors=[Tensor("OUTPUT0", a + b), Tensor("OUTPUT1", a - b)]
                )
            )
        return responses
