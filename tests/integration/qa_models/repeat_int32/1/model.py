"""Stand-in for the decoupled repeat model Triton's QA uses (repeat_int32):
one response per element of IN, OUT = that element and IDX = its index, each
after DELAY[i] ms; WAIT ms before the final flag."""

import time

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        get = pb_utils.get_input_tensor_by_name
        for r in requests:
            sender = r.get_response_sender()
            values = get(r, "IN").as_numpy().reshape(-1)
            delays = get(r, "DELAY").as_numpy().reshape(-1)
            wait = int(get(r, "WAIT").as_numpy().reshape(-1)[0])
            for i, v in enumerate(values):
                time.sleep(int(delays[i % len(delays)]) / 1000.0 if len(delays) else 0)
                sender.send(pb_utils.InferenceResponse(output_tensors=[
                    pb_utils.Tensor("OUT", np.array([v], dtype=np.int32)),
                    pb_utils.Tensor("IDX", np.array([i], dtype=np.uint32))]))
            time.sleep(wait / 1000.0)
            sender.send(flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
        return None
