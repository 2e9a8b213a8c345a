/* The part of Triton's public C API (tritonserver.h, API version 1.x) that
 * the in-process engine uses, declared here so nothing links against the
 * library: every function is looked up with dlsym into pa_capi_server. */
#ifndef PA_CAPI_API_H
#define PA_CAPI_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capi_config.h"

typedef struct TRITONSERVER_Error TRITONSERVER_Error;
typedef struct TRITONSERVER_InferenceRequest TRITONSERVER_InferenceRequest;
typedef struct TRITONSERVER_InferenceResponse TRITONSERVER_InferenceResponse;
typedef struct TRITONSERVER_InferenceTrace TRITONSERVER_InferenceTrace;
typedef struct TRITONSERVER_Message TRITONSERVER_Message;
typedef struct TRITONSERVER_ResponseAllocator TRITONSERVER_ResponseAllocator;
typedef struct TRITONSERVER_Server TRITONSERVER_Server;
typedef struct TRITONSERVER_ServerOptions TRITONSERVER_ServerOptions;

/* Enum values are part of the ABI: fixed in the header since API 1.0. */
typedef int TRITONSERVER_DataType;   /* TRITONSERVER_StringToDataType gives it */
typedef int TRITONSERVER_MemoryType;
#define PA_TRITON_MEMORY_CPU 0
#define PA_TRITON_MODEL_CONTROL_EXPLICIT 2
#define PA_TRITON_REQUEST_RELEASE_ALL 1u
#define PA_TRITON_RESPONSE_COMPLETE_FINAL 1u
#define PA_TRITON_REQUEST_FLAG_SEQUENCE_START 1u
#define PA_TRITON_REQUEST_FLAG_SEQUENCE_END 2u
#define PA_TRITON_TYPE_INVALID 0
#define PA_TRITON_API_MAJOR 1u
#define PA_TRITON_API_MINOR 3u /* everything used here exists since 1.3 */

typedef TRITONSERVER_Error *(*pa_triton_alloc_fn)(TRITONSERVER_ResponseAllocator *allocator, const char *tensor_name,
                                                  size_t byte_size, TRITONSERVER_MemoryType memory_type,
                                                  int64_t memory_type_id, void *userp, void **buffer,
                                                  void **buffer_userp, TRITONSERVER_MemoryType *actual_memory_type,
                                                  int64_t *actual_memory_type_id);
typedef TRITONSERVER_Error *(*pa_triton_release_fn)(TRITONSERVER_ResponseAllocator *allocator, void *buffer,
                                                    void *buffer_userp, size_t byte_size,
                                                    TRITONSERVER_MemoryType memory_type, int64_t memory_type_id);
typedef TRITONSERVER_Error *(*pa_triton_start_fn)(TRITONSERVER_ResponseAllocator *allocator, void *userp);
typedef void (*pa_triton_request_release_fn)(TRITONSERVER_InferenceRequest *request, const uint32_t flags,
                                             void *userp);
typedef void (*pa_triton_response_fn)(TRITONSERVER_InferenceResponse *response, const uint32_t flags, void *userp);

/* X(name, return type, parameter list) for every function looked up. */
#define PA_TRITON_FUNCTIONS(X)                                                                                  \
    X(ApiVersion, TRITONSERVER_Error *, (uint32_t * major, uint32_t * minor))                                  \
    X(ErrorMessage, const char *, (TRITONSERVER_Error * error))                                                \
    X(ErrorDelete, void, (TRITONSERVER_Error * error))                                                         \
    X(StringToDataType, TRITONSERVER_DataType, (const char *dtype))                                            \
    X(ServerOptionsNew, TRITONSERVER_Error *, (TRITONSERVER_ServerOptions * *options))                         \
    X(ServerOptionsDelete, TRITONSERVER_Error *, (TRITONSERVER_ServerOptions * options))                       \
    X(ServerOptionsSetModelRepositoryPath, TRITONSERVER_Error *,                                               \
      (TRITONSERVER_ServerOptions * options, const char *path))                                                \
    X(ServerOptionsSetModelControlMode, TRITONSERVER_Error *, (TRITONSERVER_ServerOptions * options, int mode)) \
    X(ServerOptionsSetBackendDirectory, TRITONSERVER_Error *,                                                  \
      (TRITONSERVER_ServerOptions * options, const char *dir))                                                 \
    X(ServerOptionsSetLogInfo, TRITONSERVER_Error *, (TRITONSERVER_ServerOptions * options, bool on))          \
    X(ServerOptionsSetLogWarn, TRITONSERVER_Error *, (TRITONSERVER_ServerOptions * options, bool on))          \
    X(ServerOptionsSetLogError, TRITONSERVER_Error *, (TRITONSERVER_ServerOptions * options, bool on))         \
    X(ServerOptionsSetMetrics, TRITONSERVER_Error *, (TRITONSERVER_ServerOptions * options, bool on))          \
    X(ServerOptionsSetGpuMetrics, TRITONSERVER_Error *, (TRITONSERVER_ServerOptions * options, bool on))       \
    X(ServerOptionsSetExitTimeout, TRITONSERVER_Error *, (TRITONSERVER_ServerOptions * options, unsigned s))   \
    X(ServerOptionsSetPinnedMemoryPoolByteSize, TRITONSERVER_Error *,                                          \
      (TRITONSERVER_ServerOptions * options, uint64_t size))                                                   \
    X(ServerNew, TRITONSERVER_Error *, (TRITONSERVER_Server * *server, TRITONSERVER_ServerOptions * options))  \
    X(ServerDelete, TRITONSERVER_Error *, (TRITONSERVER_Server * server))                                      \
    X(ServerIsLive, TRITONSERVER_Error *, (TRITONSERVER_Server * server, bool *live))                          \
    X(ServerIsReady, TRITONSERVER_Error *, (TRITONSERVER_Server * server, bool *ready))                        \
    X(ServerLoadModel, TRITONSERVER_Error *, (TRITONSERVER_Server * server, const char *model))                \
    X(ServerModelIsReady, TRITONSERVER_Error *,                                                                \
      (TRITONSERVER_Server * server, const char *model, int64_t version, bool *ready))                         \
    X(ServerModelMetadata, TRITONSERVER_Error *,                                                               \
      (TRITONSERVER_Server * server, const char *model, int64_t version, TRITONSERVER_Message **out))          \
    X(ServerModelConfig, TRITONSERVER_Error *,                                                                 \
      (TRITONSERVER_Server * server, const char *model, int64_t version, uint32_t config_version,              \
       TRITONSERVER_Message **out))                                                                            \
    X(ServerModelStatistics, TRITONSERVER_Error *,                                                             \
      (TRITONSERVER_Server * server, const char *model, int64_t version, TRITONSERVER_Message **out))          \
    X(MessageSerializeToJson, TRITONSERVER_Error *,                                                            \
      (TRITONSERVER_Message * message, const char **base, size_t *size))                                       \
    X(MessageDelete, TRITONSERVER_Error *, (TRITONSERVER_Message * message))                                   \
    X(ResponseAllocatorNew, TRITONSERVER_Error *,                                                              \
      (TRITONSERVER_ResponseAllocator * *allocator, pa_triton_alloc_fn alloc, pa_triton_release_fn release,    \
       pa_triton_start_fn start))                                                                              \
    X(ResponseAllocatorDelete, TRITONSERVER_Error *, (TRITONSERVER_ResponseAllocator * allocator))             \
    X(InferenceRequestNew, TRITONSERVER_Error *,                                                               \
      (TRITONSERVER_InferenceRequest * *request, TRITONSERVER_Server * server, const char *model,              \
       int64_t version))                                                                                       \
    X(InferenceRequestDelete, TRITONSERVER_Error *, (TRITONSERVER_InferenceRequest * request))                 \
    X(InferenceRequestAddInput, TRITONSERVER_Error *,                                                          \
      (TRITONSERVER_InferenceRequest * request, const char *name, TRITONSERVER_DataType datatype,              \
       const int64_t *shape, uint64_t n_dims))                                                                 \
    X(InferenceRequestRemoveAllInputs, TRITONSERVER_Error *, (TRITONSERVER_InferenceRequest * request))        \
    X(InferenceRequestAppendInputData, TRITONSERVER_Error *,                                                   \
      (TRITONSERVER_InferenceRequest * request, const char *name, const void *base, size_t size,               \
       TRITONSERVER_MemoryType memory_type, int64_t memory_type_id))                                           \
    X(InferenceRequestSetTimeoutMicroseconds, TRITONSERVER_Error *,                                            \
      (TRITONSERVER_InferenceRequest * request, uint64_t timeout_us))                                          \
    X(InferenceRequestSetCorrelationId, TRITONSERVER_Error *,                                                  \
      (TRITONSERVER_InferenceRequest * request, uint64_t correlation_id))                                      \
    X(InferenceRequestSetFlags, TRITONSERVER_Error *,                                                          \
      (TRITONSERVER_InferenceRequest * request, uint32_t flags))                                               \
    X(InferenceRequestSetReleaseCallback, TRITONSERVER_Error *,                                                \
      (TRITONSERVER_InferenceRequest * request, pa_triton_request_release_fn fn, void *userp))                 \
    X(InferenceRequestSetResponseCallback, TRITONSERVER_Error *,                                               \
      (TRITONSERVER_InferenceRequest * request, TRITONSERVER_ResponseAllocator * allocator,                    \
       void *allocator_userp, pa_triton_response_fn fn, void *userp))                                          \
    X(InferenceResponseError, TRITONSERVER_Error *, (TRITONSERVER_InferenceResponse * response))               \
    X(InferenceResponseDelete, TRITONSERVER_Error *, (TRITONSERVER_InferenceResponse * response))              \
    X(ServerInferAsync, TRITONSERVER_Error *,                                                                  \
      (TRITONSERVER_Server * server, TRITONSERVER_InferenceRequest * request,                                  \
       TRITONSERVER_InferenceTrace * trace))

typedef struct pa_triton_api {
#define PA_TRITON_MEMBER(name, ret, params) ret(*name) params;
    PA_TRITON_FUNCTIONS(PA_TRITON_MEMBER)
#undef PA_TRITON_MEMBER
} pa_triton_api;

struct pa_capi_server {
    void *dl;
    pa_triton_api api;
    uint32_t api_major, api_minor;
    TRITONSERVER_Server *server;
};

/* Writes "<what>: <the error's message>" into out and deletes the error. */
void pa_capi_take_error(const pa_triton_api *api, TRITONSERVER_Error *error, const char *what, char *out,
                        size_t outlen);

#endif
