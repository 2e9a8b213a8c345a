/* The in-process Triton server: libtritonserver.so is opened with dlopen at
 * run time, so the core builds and runs on machines without it. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "capi_api.h"

#define MAX_PRELOADS 64
#define PATH_LEN 4096

void pa_capi_take_error(const pa_triton_api *api, TRITONSERVER_Error *error, const char *what, char *out,
                        size_t outlen) {
    const char *msg = api->ErrorMessage ? api->ErrorMessage(error) : NULL;
    snprintf(out, outlen, "%s: %s", what, msg && *msg ? msg : "(no message)");
    if (api->ErrorDelete)
        api->ErrorDelete(error);
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* "libfoo.so.1: cannot open shared object file..." -> "libfoo.so.1". */
static int missing_library(const char *dlerr, char *name, size_t namelen) {
    const char *tail = strstr(dlerr, ": cannot open shared object file");
    if (!tail)
        return 0;
    const char *start = tail;
    while (start > dlerr && start[-1] != ' ' && start[-1] != '/')
        start--;
    size_t n = (size_t)(tail - start);
    if (n == 0 || n >= namelen)
        return 0;
    memcpy(name, start, n);
    name[n] = '\0';
    return 1;
}

/* A wheel-bundled library finds its own dependencies through a RUNPATH that
 * the dynamic loader does not apply to their dependencies in turn (the
 * server binary relies on its RPATH for that). Dependencies the loader
 * cannot find are therefore loaded first from the library's directory; the
 * loader then matches them by soname. */
static void *open_with_siblings(const char *path, char *err, size_t errlen) {
    char dir[PATH_LEN];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    const char *stack[MAX_PRELOADS + 1];
    char (*names)[PATH_LEN] = malloc(MAX_PRELOADS * sizeof(*names));
    if (!names) {
        snprintf(err, errlen, "out of memory loading %s", path);
        return NULL;
    }
    size_t depth = 0;
    stack[0] = path;
    for (int attempts = 0; attempts < 4 * MAX_PRELOADS; attempts++) {
        void *h = dlopen(stack[depth], RTLD_NOW | RTLD_LOCAL);
        if (h) {
            if (depth == 0) {
                free(names);
                return h;
            }
            depth--; /* a dependency is in: retry what needed it */
            continue;
        }
        const char *why = dlerror();
        char name[256];
        if (!why || !missing_library(why, name, sizeof(name)) || depth == MAX_PRELOADS ||
            (size_t)snprintf(names[depth], PATH_LEN, "%s/%s", dir, name) >= PATH_LEN || !is_file(names[depth]) ||
            strcmp(names[depth], stack[depth]) == 0) {
            snprintf(err, errlen, "cannot load the Triton server library %s: %s", path, why ? why : "unknown error");
            free(names);
            return NULL;
        }
        stack[depth + 1] = names[depth];
        depth++;
    }
    free(names);
    snprintf(err, errlen, "cannot load the Triton server library %s: too many missing dependencies", path);
    return NULL;
}

static int resolve(pa_capi_server *s, const char *path, char *err, size_t errlen) {
#define PA_TRITON_LOOKUP(name, ret, params)                                                                     \
    *(void **)(&s->api.name) = dlsym(s->dl, "TRITONSERVER_" #name);                                             \
    if (!s->api.name) {                                                                                         \
        snprintf(err, errlen, "%s is not a usable Triton server library: it has no TRITONSERVER_" #name, path); \
        return -1;                                                                                              \
    }
    PA_TRITON_FUNCTIONS(PA_TRITON_LOOKUP)
#undef PA_TRITON_LOOKUP
    return 0;
}

/* Runs one options call; on failure writes the message and returns -1. */
static int check(pa_capi_server *s, TRITONSERVER_Error *e, const char *what, char *err, size_t errlen) {
    if (!e)
        return 0;
    pa_capi_take_error(&s->api, e, what, err, errlen);
    return -1;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int wait_ready(pa_capi_server *s, int timeout_s, char *err, size_t errlen) {
    for (long waited = 0;; waited += 50) {
        bool live = false, ready = false;
        TRITONSERVER_Error *e = s->api.ServerIsLive(s->server, &live);
        if (!e)
            e = s->api.ServerIsReady(s->server, &ready);
        if (e)
            return check(s, e, "the in-process server failed its health check", err, errlen);
        if (live && ready)
            return 0;
        if (waited >= (long)timeout_s * 1000) {
            snprintf(err, errlen, "the in-process server was not %s after %d s", live ? "ready" : "live", timeout_s);
            return -1;
        }
        sleep_ms(50);
    }
}

pa_capi_server *pa_capi_server_create(const pa_capi_server_options *o, char *err, size_t errlen) {
    if (!is_file(o->library)) {
        snprintf(err, errlen, "no Triton server library at %s", o->library);
        return NULL;
    }
    pa_capi_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* The library stays loaded on every failure: unloading a C++ runtime mid-process is not safe. */
    s->dl = open_with_siblings(o->library, err, errlen);
    if (!s->dl) {
        free(s);
        return NULL;
    }
    /* The version first: a library of another major version may lack what the rest looks up. */
    *(void **)(&s->api.ApiVersion) = dlsym(s->dl, "TRITONSERVER_ApiVersion");
    if (!s->api.ApiVersion) {
        snprintf(err, errlen, "%s is not a Triton server library: it has no TRITONSERVER_ApiVersion", o->library);
        free(s);
        return NULL;
    }
    TRITONSERVER_Error *e = s->api.ApiVersion(&s->api_major, &s->api_minor);
    if (e) {
        snprintf(err, errlen, "%s: reading the Triton API version failed", o->library);
        free(s);
        return NULL;
    }
    if (s->api_major != PA_TRITON_API_MAJOR || s->api_minor < PA_TRITON_API_MINOR) {
        snprintf(err, errlen, "%s implements Triton server API %u.%u; this client needs %u.x with x >= %u",
                 o->library, s->api_major, s->api_minor, PA_TRITON_API_MAJOR, PA_TRITON_API_MINOR);
        free(s);
        return NULL;
    }
    if (resolve(s, o->library, err, errlen) != 0) {
        free(s);
        return NULL;
    }
    TRITONSERVER_ServerOptions *opt = NULL;
    if (check(s, s->api.ServerOptionsNew(&opt), "creating the server options", err, errlen) != 0) {
        free(s);
        return NULL;
    }
    bool logs = o->verbose != 0;
    int rc = check(s, s->api.ServerOptionsSetModelRepositoryPath(opt, o->model_repository),
                   "setting the model repository", err, errlen);
    /* Explicit control: only the profiled model loads, and its load error comes back to us. */
    rc = rc ? rc : check(s, s->api.ServerOptionsSetModelControlMode(opt, PA_TRITON_MODEL_CONTROL_EXPLICIT),
                         "setting the model control mode", err, errlen);
    rc = rc ? rc : check(s, s->api.ServerOptionsSetBackendDirectory(opt, o->backend_directory),
                         "setting the backend directory", err, errlen);
    rc = rc ? rc : check(s, s->api.ServerOptionsSetLogInfo(opt, logs), "setting the log", err, errlen);
    rc = rc ? rc : check(s, s->api.ServerOptionsSetLogWarn(opt, logs), "setting the log", err, errlen);
    rc = rc ? rc : check(s, s->api.ServerOptionsSetLogError(opt, logs), "setting the log", err, errlen);
    /* No metrics thread and no pinned pool: neither is measured, both cost CPU-only machines. */
    rc = rc ? rc : check(s, s->api.ServerOptionsSetMetrics(opt, false), "disabling metrics", err, errlen);
    rc = rc ? rc : check(s, s->api.ServerOptionsSetGpuMetrics(opt, false), "disabling GPU metrics", err, errlen);
    rc = rc ? rc : check(s, s->api.ServerOptionsSetPinnedMemoryPoolByteSize(opt, 0), "setting the pinned pool",
                         err, errlen);
    rc = rc ? rc : check(s, s->api.ServerOptionsSetExitTimeout(opt, 5), "setting the exit timeout", err, errlen);
    /* A model that fails to load must fail once, not be retried for ever;
     * the option exists only in newer libraries, hence looked up apart. */
    TRITONSERVER_Error *(*set_retries)(TRITONSERVER_ServerOptions *, unsigned) = NULL;
    *(void **)(&set_retries) = dlsym(s->dl, "TRITONSERVER_ServerOptionsSetModelLoadRetryCount");
    if (rc == 0 && set_retries)
        rc = check(s, set_retries(opt, 0), "setting the model load retries", err, errlen);
    if (rc == 0)
        rc = check(s, s->api.ServerNew(&s->server, opt), "the in-process server did not start", err, errlen);
    TRITONSERVER_Error *de = s->api.ServerOptionsDelete(opt);
    if (de)
        s->api.ErrorDelete(de);
    if (rc == 0 && wait_ready(s, o->startup_timeout_s > 0 ? o->startup_timeout_s : 60, err, errlen) != 0)
        rc = -1;
    if (rc != 0) {
        pa_capi_server_destroy(s, NULL, 0);
        return NULL;
    }
    return s;
}

int pa_capi_server_load_model(pa_capi_server *s, const char *model, int64_t version, char *err, size_t errlen) {
    char what[400];
    snprintf(what, sizeof(what), "model '%s' failed to load", model);
    if (check(s, s->api.ServerLoadModel(s->server, model), what, err, errlen) != 0)
        return -1;
    bool ready = false;
    TRITONSERVER_Error *e = s->api.ServerModelIsReady(s->server, model, version, &ready);
    snprintf(what, sizeof(what), "model '%s' is not ready", model);
    if (check(s, e, what, err, errlen) != 0)
        return -1;
    if (!ready) {
        if (version >= 0)
            snprintf(err, errlen, "model '%s' version %lld is not ready", model, (long long)version);
        else
            snprintf(err, errlen, "model '%s' is not ready", model);
        return -1;
    }
    return 0;
}

char *pa_capi_server_json(pa_capi_server *s, enum pa_capi_document what, const char *model, int64_t version,
                          char *err, size_t errlen) {
    TRITONSERVER_Message *m = NULL;
    TRITONSERVER_Error *e;
    const char *label;
    switch (what) {
    case PA_CAPI_METADATA:
        label = "reading the model metadata";
        e = s->api.ServerModelMetadata(s->server, model, version, &m);
        break;
    case PA_CAPI_CONFIG:
        label = "reading the model config";
        e = s->api.ServerModelConfig(s->server, model, version, 1, &m);
        break;
    default:
        label = "reading statistics";
        e = s->api.ServerModelStatistics(s->server, model, version, &m);
        break;
    }
    if (check(s, e, label, err, errlen) != 0)
        return NULL;
    const char *base = NULL;
    size_t size = 0;
    char *out = NULL;
    if (check(s, s->api.MessageSerializeToJson(m, &base, &size), label, err, errlen) == 0) {
        out = malloc(size + 1);
        if (out) {
            memcpy(out, base, size);
            out[size] = '\0';
        } else {
            snprintf(err, errlen, "%s: out of memory", label);
        }
    }
    e = s->api.MessageDelete(m);
    if (e)
        s->api.ErrorDelete(e);
    return out;
}

void pa_capi_server_api_version(const pa_capi_server *s, uint32_t *major, uint32_t *minor) {
    *major = s->api_major;
    *minor = s->api_minor;
}

int pa_capi_server_destroy(pa_capi_server *s, char *err, size_t errlen) {
    int rc = 0;
    if (!s)
        return 0;
    if (s->server) {
        /* Deleting stops the server: models unload, backend processes exit.
         * When they do not within the exit timeout, Triton says so and keeps
         * the server (its models and backend processes stay up). */
        TRITONSERVER_Error *e = s->api.ServerDelete(s->server);
        if (e) {
            if (err && errlen)
                pa_capi_take_error(&s->api, e, "the in-process server did not stop", err, errlen);
            else
                s->api.ErrorDelete(e);
            rc = -1;
        }
    }
    free(s);
    return rc;
}
