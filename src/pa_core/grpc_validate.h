/* Output validation of protobuf responses: KServe v2 ModelInferResponse
 * (Triton over gRPC, unary and streaming) and TF Serving's PredictResponse,
 * read with the strict pb_reader and compared with the validator. */
#ifndef PA_GRPC_VALIDATE_H
#define PA_GRPC_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "validate.h"

enum pa_response_format { PA_RESPONSE_KSERVE = 0, PA_RESPONSE_TF_PREDICT = 1 };

/* A serialized ModelInferResponse: each output of `outputs` (field 5) with
 * its raw_output_contents (field 6, in the same order). 0 when every output
 * present matches; 1 with `msg` on a mismatch or a malformed message. Bits
 * of expected outputs found are or-ed into *seen (pa_validator_check_seen
 * then names a missing one). */
int pa_check_kserve_response(const pa_validator *v, size_t body, const uint8_t *p, size_t len, uint64_t *seen,
                             char *msg, size_t msglen);
/* A serialized PredictResponse: each entry of the `outputs` map (field 1),
 * from tensor_content when set, else from the typed *_val field of its dtype
 * (decoded into `scratch`, which grows once and is reused). */
int pa_check_tf_predict_response(const pa_validator *v, size_t body, const uint8_t *p, size_t len,
                                 pa_body_buf *scratch, uint64_t *seen, char *msg, size_t msglen);
/* One whole response in `format`, every expected output required: 0 or 1
 * (0 without reading it when the body expects no output). */
int pa_check_response(const pa_validator *v, int format, size_t body, const uint8_t *p, size_t len,
                      pa_body_buf *scratch, char *msg, size_t msglen);

#endif
