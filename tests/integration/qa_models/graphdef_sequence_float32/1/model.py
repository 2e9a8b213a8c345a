"""Stand-in for Triton QA's graphdef_sequence_float32 (variable shape): a
sequence model whose OUTPUT is its INPUT."""

import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        get = pb_utils.get_input_tensor_by_name
        return [pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("OUTPUT", get(r, "INPUT").as_numpy())])
                for r in requests]
