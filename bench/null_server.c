/* A null inference server for open-loop benchmarks: it speaks just enough of
 * Triton's KServe v2 HTTP protocol for perf_analyzer and perfanalyzer to run
 * against it (health, model metadata and config, statistics with real counts,
 * infer), and answers every infer with one canned binary-tensor answer, so
 * that what limits a run is the client, not the server.
 *
 * One thread, epoll, kept-alive HTTP/1.1 connections, pipelined requests
 * answered in order. It listens on 127.0.0.1 only, on a free port unless one
 * is given, prints "port N" on stdout once listening, and exits by itself
 * after --seconds (and when its parent dies).
 *
 *   cc -O2 -Wall -Wextra -o null_server null_server.c
 *   ./null_server [--port N] [--seconds S] [--work-us U] [--model NAME]
 *
 * --work-us spins that long per infer, to give the server a known cost. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IN_CAP (1u << 18) /* a request larger than this is refused */
#define MAX_EVENTS 256
#define OUTPUT_BYTES 64   /* OUTPUT0: 16 FP32 */

typedef struct conn {
    int fd;
    char *in;
    size_t in_len;
    char *out;
    size_t out_len, out_sent, out_cap;
} conn;

static const char *model = "identity";
static uint64_t infers, infer_ns_total;
static long work_ns;
static char infer_answer[1024];
static size_t infer_answer_len;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int out_append(conn *c, const char *data, size_t n) {
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + n)
            cap *= 2;
        char *grown = realloc(c->out, cap);
        if (!grown)
            return -1;
        c->out = grown;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, data, n);
    c->out_len += n;
    return 0;
}

static int reply(conn *c, int status, const char *reason, const char *body) {
    char head[256];
    size_t n = strlen(body);
    int h = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", status,
                     reason, n);
    return out_append(c, head, (size_t)h) || out_append(c, body, n);
}

static void build_infer_answer(void) {
    char json[512];
    int j = snprintf(json, sizeof(json),
                     "{\"model_name\":\"%s\",\"model_version\":\"1\",\"outputs\":[{\"name\":\"OUTPUT0\","
                     "\"datatype\":\"FP32\",\"shape\":[1,16],\"parameters\":{\"binary_data_size\":%d}}]}",
                     model, OUTPUT_BYTES);
    int h = snprintf(infer_answer, sizeof(infer_answer),
                     "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                     "Inference-Header-Content-Length: %d\r\nContent-Length: %d\r\n\r\n%s",
                     j, j + OUTPUT_BYTES, json);
    memset(infer_answer + h, 0, OUTPUT_BYTES);
    infer_answer_len = (size_t)h + OUTPUT_BYTES;
}

static int answer_get(conn *c, const char *path) {
    char buf[2048], prefix[256];
    snprintf(prefix, sizeof(prefix), "/v2/models/%s", model);
    size_t pl = strlen(prefix);
    if (strncmp(path, "/v2/health/", 11) == 0)
        return reply(c, 200, "OK", "");
    if (strcmp(path, "/v2") == 0)
        return reply(c, 200, "OK",
                     "{\"name\":\"null\",\"version\":\"2.40.0\",\"extensions\":[\"model_configuration\","
                     "\"binary_tensor_data\",\"statistics\"]}");
    if (strncmp(path, prefix, pl) != 0 || (path[pl] != '\0' && path[pl] != '/'))
        return reply(c, 404, "Not Found", "{\"error\":\"unknown model\"}");
    const char *rest = path + pl;
    if (strncmp(rest, "/versions/1", 11) == 0)
        rest += 11;
    if (*rest == '\0') {
        snprintf(buf, sizeof(buf),
                 "{\"name\":\"%s\",\"versions\":[\"1\"],\"platform\":\"python\",\"inputs\":[{\"name\":\"INPUT0\","
                 "\"datatype\":\"FP32\",\"shape\":[-1,16]}],\"outputs\":[{\"name\":\"OUTPUT0\",\"datatype\":\"FP32\","
                 "\"shape\":[-1,16]}]}",
                 model);
        return reply(c, 200, "OK", buf);
    }
    if (strcmp(rest, "/ready") == 0)
        return reply(c, 200, "OK", "");
    if (strcmp(rest, "/config") == 0) {
        snprintf(buf, sizeof(buf),
                 "{\"name\":\"%s\",\"platform\":\"\",\"backend\":\"python\",\"max_batch_size\":64,\"input\":[{"
                 "\"name\":\"INPUT0\",\"data_type\":\"TYPE_FP32\",\"dims\":[16]}],\"output\":[{\"name\":\"OUTPUT0\","
                 "\"data_type\":\"TYPE_FP32\",\"dims\":[16]}],\"instance_group\":[{\"count\":1,\"kind\":\"KIND_CPU\"}]}",
                 model);
        return reply(c, 200, "OK", buf);
    }
    if (strcmp(rest, "/stats") == 0) {
        unsigned long long n = infers, ns = infer_ns_total;
        snprintf(buf, sizeof(buf),
                 "{\"model_stats\":[{\"name\":\"%s\",\"version\":\"1\",\"last_inference\":0,"
                 "\"inference_count\":%llu,\"execution_count\":%llu,\"inference_stats\":{"
                 "\"success\":{\"count\":%llu,\"ns\":%llu},\"fail\":{\"count\":0,\"ns\":0},"
                 "\"queue\":{\"count\":%llu,\"ns\":0},\"compute_input\":{\"count\":%llu,\"ns\":0},"
                 "\"compute_infer\":{\"count\":%llu,\"ns\":%llu},\"compute_output\":{\"count\":%llu,\"ns\":0},"
                 "\"cache_hit\":{\"count\":0,\"ns\":0},\"cache_miss\":{\"count\":0,\"ns\":0}},\"batch_stats\":[]}]}",
                 model, n, n, n, ns, n, n, n, ns, n);
        return reply(c, 200, "OK", buf);
    }
    return reply(c, 404, "Not Found", "{\"error\":\"not found\"}");
}

static int answer_infer(conn *c) {
    uint64_t t0 = now_ns();
    if (work_ns)
        while (now_ns() - t0 < (uint64_t)work_ns) {
        }
    infers++;
    infer_ns_total += now_ns() - t0;
    return out_append(c, infer_answer, infer_answer_len);
}

/* Answers every complete request in the input buffer. -1: close. */
static int serve(conn *c) {
    size_t used = 0;
    for (;;) {
        char *start = c->in + used, *end = memmem(start, c->in_len - used, "\r\n\r\n", 4);
        if (!end)
            break;
        size_t head = (size_t)(end - start) + 4, body = 0;
        for (char *line = memchr(start, '\n', head); line && line < end; line = memchr(line + 1, '\n', (size_t)(end - line))) {
            if (strncasecmp(line + 1, "content-length:", 15) == 0) {
                body = strtoul(line + 16, NULL, 10);
                break;
            }
        }
        if (body > IN_CAP)
            return -1;
        if (c->in_len - used < head + body)
            break;
        char path[512];
        int is_post = strncmp(start, "POST ", 5) == 0, is_get = strncmp(start, "GET ", 4) == 0;
        const char *p = start + (is_post ? 5 : 4), *sp = memchr(p, ' ', (size_t)(end - p));
        if ((!is_post && !is_get) || !sp || (size_t)(sp - p) >= sizeof(path))
            return -1;
        memcpy(path, p, (size_t)(sp - p));
        path[sp - p] = '\0';
        size_t pl = strlen(path);
        int rc = is_post && pl > 6 && strcmp(path + pl - 6, "/infer") == 0 ? answer_infer(c)
                 : is_get                                                 ? answer_get(c, path)
                                                                          : reply(c, 404, "Not Found", "{}");
        if (rc)
            return -1;
        used += head + body;
    }
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    return 0;
}

static int flush_out(conn *c) {
    while (c->out_sent < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    }
    c->out_len = c->out_sent = 0;
    return 0;
}

static void drop(int ep, conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}

/* Reads what there is, answers, writes: -1 when the connection is done. */
static int on_readable(conn *c) {
    for (;;) {
        if (c->in_len == IN_CAP + 8192)
            return -1;
        ssize_t n = recv(c->fd, c->in + c->in_len, IN_CAP + 8192 - c->in_len, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
            if (serve(c))
                return -1;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return flush_out(c);
        return -1;
    }
}

int main(int argc, char **argv) {
    int port = 0;
    unsigned seconds = 600;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--seconds") == 0)
            seconds = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--work-us") == 0)
            work_ns = atol(argv[i + 1]) * 1000;
        else if (strcmp(argv[i], "--model") == 0)
            model = argv[i + 1];
        else {
            fprintf(stderr, "null_server: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (seconds == 0 || strlen(model) > 100) {
        fprintf(stderr, "null_server: --seconds must be positive, --model at most 100 characters\n");
        return 2;
    }
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    alarm(seconds); /* the bound on its life: SIGALRM ends it */
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    build_infer_answer();
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(addr);
    if (ls < 0 || bind(ls, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(ls, 4096) != 0 ||
        getsockname(ls, (struct sockaddr *)&addr, &alen) != 0) {
        perror("null_server: listen");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    printf("port %d\n", ntohs(addr.sin_port));
    fflush(stdout);
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);
        for (int i = 0; i < n; i++) {
            conn *c = events[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    conn *nc = calloc(1, sizeof(*nc));
                    char *in = malloc(IN_CAP + 8192);
                    if (!nc || !in) {
                        free(nc);
                        free(in);
                        close(fd);
                        continue;
                    }
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    nc->fd = fd;
                    nc->in = in;
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            int rc = 0;
            if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                rc = on_readable(c);
            else if (events[i].events & EPOLLOUT)
                rc = flush_out(c);
            if (rc)
                drop(ep, c);
        }
    }
}
