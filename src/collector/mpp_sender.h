/*  The collector's ZeroMQ PUSH socket to the aggregator.
 *
 *  Sending never blocks: a full queue or a missing peer makes a send fail
 *  with -EAGAIN, which costs nothing lasting because DATA is cumulative
 *  and failed entries go out again with the next message.  Closing waits
 *  for delivery at most the linger time, so a process never hangs at exit
 *  when the aggregator is gone.
 *
 *  A context belongs to the process that created it.  A fork child must
 *  call mpp_sender_abandon(), which forgets the parent's objects without
 *  touching them, and create its own sender.
 */
#ifndef MPP_SENDER_H
#define MPP_SENDER_H

#include "mpp_internal.h"

typedef struct mpp_sender mpp_sender_t;

/*  Creates a context and a socket connected to `endpoint`.  Returns NULL
 *  on failure and, if `err` is not NULL, stores the zmq error text there. */
mpp_sender_t *mpp_sender_new(const char *endpoint, int linger_ms, int hwm,
                             const char **err);

/*  Queues one frame without blocking.  Returns 0, or a negated errno
 *  (-EAGAIN when the queue is full or no peer is connected yet and the
 *  socket is set to refuse). */
int mpp_sender_send(mpp_sender_t *self, const void *data, size_t len);

/*  Closes the socket and terminates the context, waiting at most the
 *  linger time for queued frames.  Returns true when that wait ran out,
 *  which means frames were probably left undelivered. */
bool mpp_sender_destroy(mpp_sender_t **self_p);

/*  After fork: drops the parent's context and socket without calling into
 *  ZeroMQ.  Their memory and descriptors are leaked on purpose; closing
 *  them in the child would tear down the parent's connection state. */
void mpp_sender_abandon(mpp_sender_t **self_p);

#endif
