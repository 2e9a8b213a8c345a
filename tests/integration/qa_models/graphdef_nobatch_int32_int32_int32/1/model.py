"""Stand-in for Triton QA's *_int32_int32_int32 models: OUTPUT0 = INPUT0 - INPUT1,
OUTPUT1 = INPUT0 + INPUT1 (the values its output.json expects)."""

import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        get = pb_utils.get_input_tensor_by_name
        out = []
        for r in requests:
            a, b = get(r, "INPUT0").as_numpy(), get(r, "INPUT1").as_numpy()
            out.append(pb_utils.InferenceResponse(
                output_tensors=[pb_utils.Tensor("OUTPUT0", a - b), pb_utils.Tensor("OUTPUT1", a + b)]))
        return out
