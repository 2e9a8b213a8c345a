/* Closed-loop HTTP/1.1 load on our own client: each slot owns one kept-alive
 * connection; requests are pre-serialized (request line, headers and body in
 * one buffer), so a request costs one send, usually one recv, and a share of
 * one epoll_wait. Connections are registered edge-triggered once, so no
 * epoll_ctl happens per request either. */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "http1_parse.h"
#include "http_config.h"

#define RECV_BUF 65536
#define MAX_EVENTS 256
#define MAX_ADDRS 8

typedef struct request {
    char *bytes; /* request line + headers + body */
    size_t len;
    size_t body_len;
    pa_seq_fields seq; /* sequences: where the body's patchable fields are (offsets in bytes) */
} request;

typedef struct slot {
    pa_slot base;        /* first: index, active, backoff */
    int fd;              /* -1: no connection */
    int connecting;
    int reused;          /* the connection carried an earlier request */
    int retried;         /* resent once after a stale kept-alive connection */
    const request *req;
    size_t sent;
    pa_request_times t;

    pa_http1_parser rp;  /* the response; with validation on, its body is kept */
    size_t body_index;   /* which of the engine's requests this one is */
    request own;         /* sequences: this slot's patched copy of its request */
    size_t own_cap;
} slot;

typedef struct http1_engine {
    pa_engine base; /* first: the engine is used through a pa_engine pointer */
    /* Every address the host resolved to ("localhost" may be ::1 and
     * 127.0.0.1); connections use `addr_pick` and move on when it refuses. */
    struct sockaddr_storage addrs[MAX_ADDRS];
    socklen_t addr_lens[MAX_ADDRS];
    unsigned n_addrs;
    unsigned addr_pick;
    char where[300]; /* host:port, for messages */
    request *requests;
    size_t n_requests;
    long request_timeout_ms;
    long connect_timeout_ms;
    const pa_validator *validator;

    int epfd;
    int wakefd;
    char rbuf[RECV_BUF];
} http1_engine;

static void close_conn(http1_engine *e, slot *s) {
    if (s->fd >= 0) {
        epoll_ctl(e->epfd, EPOLL_CTL_DEL, s->fd, NULL);
        close(s->fd);
    }
    s->fd = -1;
    s->connecting = 0;
    s->reused = 0;
}

/* Open loop: an idle slot's kept-alive connection, once the engine no
 * longer needs that many. */
static void release_idle(pa_engine *base, pa_slot *ps) {
    slot *s = (slot *)ps;
    if (!s->base.active)
        close_conn((http1_engine *)base, s);
}

static void fail_as(http1_engine *e, slot *s, enum pa_error_kind kind, const char *what, int err) {
    char msg[PA_ERROR_MESSAGE_LEN];
    if (err)
        snprintf(msg, sizeof(msg), "%s %.150s: %s", what, e->where, strerror(err));
    else
        snprintf(msg, sizeof(msg), "%s %.150s", what, e->where);
    close_conn(e, s);
    pa_engine_request_failed(&e->base, &s->base, kind, -1, msg, 1);
}

static void fail(http1_engine *e, slot *s, const char *what, int err) { fail_as(e, s, PA_ERR_TRANSPORT, what, err); }

static int open_conn(http1_engine *e, slot *s) {
    const struct sockaddr_storage *addr = &e->addrs[e->addr_pick];
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = s};
    if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        int err = errno;
        close(fd);
        return err;
    }
    s->fd = fd;
    s->reused = 0;
    if (connect(fd, (const struct sockaddr *)addr, e->addr_lens[e->addr_pick]) != 0) {
        if (errno != EINPROGRESS) {
            int err = errno;
            close_conn(e, s);
            return err;
        }
        s->connecting = 1;
    }
    return 0;
}

/* A connect failed: if another address is left, use it from now on and
 * reconnect this slot at once. 1 when a new attempt started. */
static int try_next_address(http1_engine *e, slot *s, int err) {
    if (err != ECONNREFUSED && err != ENETUNREACH && err != EHOSTUNREACH && err != EADDRNOTAVAIL &&
        err != EAFNOSUPPORT)
        return 0;
    close_conn(e, s);
    while (e->addr_pick + 1 < e->n_addrs) {
        e->addr_pick++;
        if (open_conn(e, s) == 0)
            return 1;
    }
    e->addr_pick = 0; /* all refused: the next request starts over */
    return 0;
}

static void send_some(http1_engine *e, slot *s) {
    while (s->sent < s->req->len) {
        ssize_t n = send(s->fd, s->req->bytes + s->sent, s->req->len - s->sent, MSG_NOSIGNAL);
        if (n > 0) {
            s->sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return; /* the EPOLLOUT edge resumes it */
        int err = n < 0 ? errno : EPIPE;
        if (s->reused && !s->retried) {
            /* The server closed an idle kept-alive connection: resend once. */
            s->retried = 1;
            close_conn(e, s);
            s->sent = 0;
            int rc = open_conn(e, s);
            if (rc != 0) {
                fail(e, s, "cannot connect to", rc);
                return;
            }
            if (!s->connecting)
                continue;
            return;
        }
        fail(e, s, "sending to", err);
        return;
    }
    if (!s->t.send_end_ns)
        s->t.send_end_ns = pa_now_ns();
}

static void start_request(pa_engine *base, pa_slot *ps) {
    http1_engine *e = (http1_engine *)base;
    slot *s = (slot *)ps;
    pa_seq_request q;
    if (pa_engine_next_step(base, ps, e->n_requests, e->where, &q) != 0)
        return;
    s->body_index = q.body;
    s->req = &e->requests[q.body];
    if (ps->seq >= 0) { /* the slot's own copy, with the sequence id and flags */
        const request *r = s->req;
        if (pa_seq_copy_patched(&s->own.bytes, &s->own_cap, r->bytes, r->len, &r->seq, &q) != 0) {
            fail_as(e, s, PA_ERR_OTHER, "out of memory for a sequence's request to", 0); /* not a transport failure */
            return;
        }
        s->own.len = r->len;
        s->own.body_len = r->body_len;
        s->req = &s->own;
    }
    s->sent = 0;
    s->retried = 0;
    memset(&s->t, 0, sizeof(s->t));
    pa_http1_begin(&s->rp);
    s->t.scheduled_ns = ps->scheduled_ns;
    s->t.start_ns = pa_now_ns();
    ps->active = 1;
    if (s->fd < 0) {
        int rc = open_conn(e, s);
        if (rc != 0 && !try_next_address(e, s, rc)) {
            fail(e, s, "cannot connect to", rc);
            return;
        }
    }
    if (!s->connecting)
        send_some(e, s);
}

static void complete(http1_engine *e, slot *s) {
    s->t.end_ns = pa_now_ns();
    if (s->rp.close_after)
        close_conn(e, s);
    else
        s->reused = 1;
    char msg[PA_ERROR_MESSAGE_LEN];
    if (e->validator && s->rp.status >= 200 && s->rp.status < 300 &&
        pa_validator_check_http(e->validator, s->body_index, s->rp.resp.data, s->rp.resp.len, s->rp.json_len, msg,
                                sizeof(msg))) {
        pa_engine_request_failed(&e->base, &s->base, PA_ERR_OTHER, -1, msg, 0); /* as in perf_analyzer */
        return;
    }
    s->base.active = 0;
    pa_engine_end_step(&e->base, &s->base);
    pa_engine_record_http(&e->base, &s->t, s->rp.status, s->req->body_len, s->rp.bytes_in,
                          s->rp.err_len ? s->rp.err_body : NULL);
    pa_engine_slot_done(&e->base, &s->base);
}

static void receive(http1_engine *e, slot *s, uint32_t events) {
    /* Edge-triggered: a short read normally means drained, but when the peer
     * also closed (RDHUP/HUP), the end of stream must be read now: no new
     * edge will come for it. */
    int peer_closed = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    for (;;) {
        ssize_t n = recv(s->fd, e->rbuf, sizeof(e->rbuf), 0);
        if (n > 0) {
            if (!s->base.active) { /* bytes nobody asked for: drop the connection */
                close_conn(e, s);
                return;
            }
            if (!s->t.recv_start_ns)
                s->t.recv_start_ns = pa_now_ns();
            int rc = pa_http1_feed_all(&s->rp, e->rbuf, (size_t)n);
            if (rc < 0) {
                char what[160];
                snprintf(what, sizeof(what), "malformed HTTP response (%s) from", s->rp.why);
                fail(e, s, what, 0);
                return;
            }
            if (rc == 1) {
                complete(e, s);
                return;
            }
            if ((size_t)n < sizeof(e->rbuf) && !peer_closed)
                return; /* drained: wait for the next edge */
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        /* end of stream or a socket error */
        int err = n < 0 ? errno : 0;
        if (!s->base.active) {
            close_conn(e, s); /* the server closed an idle kept-alive connection */
            return;
        }
        if (n == 0 && pa_http1_end_of_stream(&s->rp) == PA_HTTP1_DONE) {
            complete(e, s);
            return;
        }
        if (s->reused && !s->retried && !s->t.recv_start_ns) {
            s->retried = 1;
            close_conn(e, s);
            s->sent = 0;
            int rc = open_conn(e, s);
            if (rc != 0)
                fail(e, s, "cannot connect to", rc);
            else if (!s->connecting)
                send_some(e, s);
            return;
        }
        fail(e, s, err ? "receiving from" : "connection closed before the response was complete by", err);
        return;
    }
}

static void on_event(http1_engine *e, slot *s, uint32_t events) {
    if (s->connecting) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            if (!try_next_address(e, s, err))
                fail(e, s, "cannot connect to", err);
            return;
        }
        s->connecting = 0;
        if (s->base.active)
            send_some(e, s);
        return;
    }
    if (s->base.active && s->sent < s->req->len && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
        send_some(e, s);
    if (s->fd >= 0 && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        receive(e, s, events);
}

static pa_slot *new_slot(pa_engine *base) {
    slot *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->fd = -1;
    s->rp.keep_body = ((http1_engine *)base)->validator != NULL;
    return &s->base;
}

static void check_timeouts(http1_engine *e, uint64_t now) {
    for (unsigned i = 0; i < e->base.n_slots; i++) {
        slot *s = (slot *)e->base.slots[i];
        if (!s->base.active || s->t.start_ns >= now) /* started after `now` was read */
            continue;
        uint64_t age_ms = (now - s->t.start_ns) / 1000000ull;
        if (s->connecting && e->connect_timeout_ms > 0 && age_ms >= (uint64_t)e->connect_timeout_ms)
            fail(e, s, "timed out connecting to", 0);
        else if (e->request_timeout_ms > 0 && age_ms >= (uint64_t)e->request_timeout_ms)
            fail(e, s, "request timed out at", 0);
    }
}

static void *run(void *arg) {
    http1_engine *e = arg;
    struct epoll_event events[MAX_EVENTS];
    uint64_t next_timeout_check = 0;
    int timeouts = e->request_timeout_ms > 0 || e->connect_timeout_ms > 0;
    int use_pwait2 = 1;
    /* Open-loop sends wake on timers; the default 50 us slack would delay them. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    for (;;) {
        uint64_t now = pa_now_ns();
        if (!pa_engine_tick(&e->base, now))
            break;
        if (timeouts && now >= next_timeout_check) {
            check_timeouts(e, now);
            next_timeout_check = now + 5000000ull;
        }
        pa_wait w = pa_engine_wait_plan(&e->base, timeouts ? 5000000ull : 1000000000ull);
        struct timespec ts = {.tv_sec = (time_t)(w.wait_ns / 1000000000ull),
                              .tv_nsec = (long)(w.wait_ns % 1000000000ull)};
        int n = use_pwait2 ? epoll_pwait2(e->epfd, events, MAX_EVENTS, &ts, NULL) : -1;
        if (n < 0 && errno == ENOSYS)
            use_pwait2 = 0; /* kernel < 5.11: millisecond waits, the spin covers the rest */
        if (!use_pwait2)
            n = epoll_wait(e->epfd, events, MAX_EVENTS, (int)(w.wait_ns / 1000000ull));
        pa_engine_wait_done(&e->base, &w, n != 0);
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL) {
                uint64_t v;
                if (read(e->wakefd, &v, sizeof(v)) < 0) { /* nothing to do: level-triggered, retried */
                }
                continue;
            }
            on_event(e, events[i].data.ptr, events[i].events);
        }
    }
    for (unsigned i = 0; i < e->base.n_slots; i++) {
        slot *s = (slot *)e->base.slots[i];
        s->base.active = 0;
        close_conn(e, s);
    }
    return NULL;
}

static void wake(pa_engine *base) {
    http1_engine *e = (http1_engine *)base;
    uint64_t one = 1;
    if (write(e->wakefd, &one, sizeof(one)) < 0) { /* the counter is saturated: already awake */
    }
}

static void destroy(pa_engine *base) {
    http1_engine *e = (http1_engine *)base;
    for (unsigned i = 0; i < e->base.n_slots; i++) {
        slot *s = (slot *)e->base.slots[i];
        close_conn(e, s);
        pa_http1_release(&s->rp);
        free(s->own.bytes);
        free(s);
    }
    free(e->base.slots);
    for (size_t i = 0; i < e->n_requests; i++)
        free(e->requests[i].bytes);
    free(e->requests);
    if (e->epfd >= 0)
        close(e->epfd);
    if (e->wakefd >= 0)
        close(e->wakefd);
    free(e);
}

static const pa_engine_ops http1_ops = {run, wake, destroy, new_slot, start_request};

/* "http://host[:port][/path]" -> host, port, path (IPv6 hosts in brackets). */
static int split_url(const char *url, char *host, size_t hostlen, char *port, size_t portlen, const char **path) {
    if (strncmp(url, "http://", 7) != 0)
        return -1;
    const char *h = url + 7, *slash = strchr(h, '/');
    const char *auth_end = slash ? slash : h + strlen(h);
    *path = slash ? slash : "/";
    const char *host_end = auth_end, *colon = NULL;
    if (h < auth_end && *h == '[') {
        const char *close = memchr(h, ']', (size_t)(auth_end - h));
        if (!close)
            return -1;
        h++;
        host_end = close;
        if (close + 1 < auth_end && close[1] == ':')
            colon = close + 1;
    } else {
        colon = memchr(h, ':', (size_t)(auth_end - h));
        if (colon)
            host_end = colon;
    }
    size_t hl = (size_t)(host_end - h);
    if (hl == 0 || hl >= hostlen)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    if (colon)
        snprintf(port, portlen, "%.*s", (int)(auth_end - colon - 1), colon + 1);
    else
        snprintf(port, portlen, "80");
    return port[0] ? 0 : -1;
}

pa_engine *pa_http1_engine_create(const pa_http_config *cfg, char *err, size_t errlen) {
    char host[256], port[16];
    const char *path;
    if (!cfg->url || cfg->n_bodies == 0) {
        snprintf(err, errlen, "an URL and at least one request body are required");
        return NULL;
    }
    if (split_url(cfg->url, host, sizeof(host), port, sizeof(port), &path) != 0) {
        snprintf(err, errlen, "unsupported URL for the HTTP/1.1 engine: %s", cfg->url);
        return NULL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0 || !res) {
        snprintf(err, errlen, "cannot resolve %s:%s: %s", host, port, gai_strerror(gai));
        return NULL;
    }
    http1_engine *e = calloc(1, sizeof(*e));
    if (!e) {
        freeaddrinfo(res);
        snprintf(err, errlen, "out of memory creating the HTTP engine");
        return NULL;
    }
    pa_engine_init(&e->base, &http1_ops);
    for (struct addrinfo *a = res; a && e->n_addrs < MAX_ADDRS; a = a->ai_next) {
        memcpy(&e->addrs[e->n_addrs], a->ai_addr, a->ai_addrlen);
        e->addr_lens[e->n_addrs++] = a->ai_addrlen;
    }
    freeaddrinfo(res);
    snprintf(e->where, sizeof(e->where), "%s:%s", host, port);
    e->request_timeout_ms = cfg->request_timeout_ms;
    e->connect_timeout_ms = cfg->connect_timeout_ms;
    e->validator = cfg->validator;
    e->base.sequencer = cfg->sequencer; /* the engine closes open sequences when it stops */
    e->base.release_idle = release_idle;
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    e->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    e->requests = calloc(cfg->n_bodies, sizeof(request));
    if (e->epfd < 0 || e->wakefd < 0 || !e->requests)
        goto fail;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->wakefd, &ev) != 0)
        goto fail;
    e->n_requests = cfg->n_bodies;
    for (size_t i = 0; i < cfg->n_bodies; i++) {
        const pa_http_body *b = &cfg->bodies[i];
        size_t head = strlen(path) + strlen(e->where) + 96;
        for (size_t h = 0; h < b->n_headers; h++)
            head += strlen(b->headers[h]) + 2;
        request *r = &e->requests[i];
        r->bytes = malloc(head + b->len);
        if (!r->bytes)
            goto fail;
        int w = snprintf(r->bytes, head, "POST %s HTTP/1.1\r\nHost: %s\r\n", path, e->where);
        for (size_t h = 0; h < b->n_headers; h++)
            w += snprintf(r->bytes + w, head - (size_t)w, "%s\r\n", b->headers[h]);
        w += snprintf(r->bytes + w, head - (size_t)w, "Content-Length: %zu\r\n\r\n", b->len);
        memcpy(r->bytes + w, b->data, b->len);
        r->len = (size_t)w + b->len;
        r->body_len = b->len;
        if (e->base.sequencer && pa_seq_find_fields(r->bytes, r->len, &r->seq) != 0) {
            snprintf(err, errlen, "request body %zu has no sequence_id/sequence_start/sequence_end fields", i);
            errno = 0;
            destroy(&e->base);
            return NULL;
        }
    }
    return &e->base;
fail:
    snprintf(err, errlen, "cannot create the HTTP engine: %s", strerror(errno ? errno : ENOMEM));
    destroy(&e->base);
    return NULL;
}
