"""Stand-in for Triton QA's savedmodel_sequence_object: a sequence model of
strings holding integers; OUTPUT = INPUT + START (the values its
seq_output.json expects: 1, 2, 3, 4 -> 2, 2, 3, 4). The direct sequence batcher
pads a batch with empty strings for its idle slots: those read as 0."""

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        get = pb_utils.get_input_tensor_by_name
        out = []
        for r in requests:
            x = get(r, "INPUT").as_numpy()
            start = get(r, "START").as_numpy()
            y = np.empty(x.shape, dtype=np.object_)
            for i in np.ndindex(x.shape):
                v = x[i].decode() if isinstance(x[i], bytes) else x[i]
                y[i] = str(int(v or 0) + int(start[i[0]].flat[0])).encode()
            out.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("OUTPUT", y)]))
        return out
