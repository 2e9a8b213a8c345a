/* The open loop's side of the engine: the schedule's due requests, the free
 * slots that carry them, how the loop waits for the next one, and the idle
 * connections it lets go. Used by engine.c; transports see only engine.h. */
#ifndef PA_OPEN_LOOP_H
#define PA_OPEN_LOOP_H

#include "engine.h"

/* At most this many due requests are sent per turn of a transport's loop:
 * a client that cannot keep up still reads its answers between batches
 * (sending without end would leave every completion unread). */
#define PA_DISPATCH_BATCH 32u
/* Once per this period, half of the free slots left unused through it let
 * their connection go, so the pool a stall grew shrinks back to what is
 * used, geometrically. */
#define PA_IDLE_RELEASE_NS 1000000000ull
/* Closing a connection on loopback runs the peer's side of the close inside
 * the call (up to a millisecond under load), so a busy loop lets go of at most
 * one per this gap, and never while a send is due; an idle one, all at once. */
#define PA_IDLE_CLOSE_GAP_NS 1000000ull

void pa_open_loop_push_free(pa_engine *e, pa_slot *s);
/* This engine's share of the schedule, from start_ns. */
void pa_open_loop_start(pa_engine *e, uint64_t start_ns);
/* Sends what is due, at most PA_DISPATCH_BATCH requests. */
void pa_open_loop_dispatch(pa_engine *e, uint64_t now);
/* Once a period: picks half of the free slots untouched for the whole period;
 * every call lets some of those go (see PA_IDLE_CLOSE_GAP_NS). */
void pa_open_loop_release_idle(pa_engine *e, uint64_t now);

/* engine.c's, for the open loop. */
int pa_engine_take_budget(pa_engine *e);
unsigned pa_engine_grow_slots(pa_engine *e, unsigned n);

#endif
