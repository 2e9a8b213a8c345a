"""sequence_accumulate: running sum and step count per correlation ID (see config.pbtxt)."""

import os

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        self.open = {}        # corrid -> [steps seen, running sum]
        self.violations = 0
        path = os.environ.get("SEQUENCE_ACCUMULATE_LOG")
        self.log = open(path, "a", buffering=1) if path else None

    def execute(self, requests):
        get = pb_utils.get_input_tensor_by_name
        responses = []
        for r in requests:
            value = int(get(r, "INPUT").as_numpy().reshape(-1)[0])
            start = int(get(r, "START").as_numpy().reshape(-1)[0])
            end = int(get(r, "END").as_numpy().reshape(-1)[0])
            corrid = int(get(r, "CORRID").as_numpy().reshape(-1)[0])
            if corrid == 0:
                # The direct batcher's filler for an idle batch slot: no sequence, nobody reads the answer.
                responses.append(self.answer(0, 0, 0))
                continue
            if self.log:
                self.log.write(f"{corrid} {start} {end} {value}\n")
            if start:
                self.open[corrid] = [0, 0]
            elif corrid not in self.open:
                self.violations += 1
                self.open[corrid] = [0, 0]
            state = self.open[corrid]
            state[0] += 1
            state[1] = (state[1] + value + 2**31) % 2**32 - 2**31  # INT32 wrap-around, as C would
            if end:
                del self.open[corrid]
            responses.append(self.answer(state[1], state[0], corrid))
        return responses

    def answer(self, total, step, corrid):
        return pb_utils.InferenceResponse(output_tensors=[
            pb_utils.Tensor("OUTPUT", np.array([[total]], dtype=np.int32)),
            pb_utils.Tensor("STEP", np.array([[step]], dtype=np.int32)),
            pb_utils.Tensor("CORRID_OUT", np.array([[corrid]], dtype=np.uint64)),
            pb_utils.Tensor("VIOLATIONS", np.array([[self.violations]], dtype=np.int32)),
        ])

    def finalize(self):
        if self.log:
            self.log.close()
