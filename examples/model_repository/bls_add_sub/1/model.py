"""bls_add_sub: calls add_sub, then pass_through on its sum (business logic
scripting); OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1."""

import triton_python_backend_utils as pb_utils


def _call(model, inputs, outputs):
    response = pb_utils.InferenceRequest(
        model_name=model, inputs=inputs, requested_output_names=outputs
    ).exec()
    if response.has_error():
        raise pb_utils.TritonModelException(f"{model}: {response.error().message()}")
    return [pb_utils.get_output_tensor_by_name(response, name) for name in outputs]


class TritonPythonModel:
    def execute(self, requests):
        get = pb_utils.get_input_tensor_by_name
        responses = []
        for r in requests:
            total, diff = _call("add_sub", [get(r, "INPUT0"), get(r, "INPUT1")], ["OUTPUT0", "OUTPUT1"])
            (copied,) = _call("pass_through", [pb_utils.Tensor("INPUT0", total.as_numpy())], ["OUTPUT0"])
            responses.append(
                pb_utils.InferenceResponse(
                    output_tensors=[
                        pb_utils.Tensor("OUTPUT0", copied.as_numpy()),
                        pb_utils.Tensor("OUTPUT1", diff.as_numpy()),
                    ]
                )
            )
        return responses
