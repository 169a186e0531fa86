/**
 * @file tern_pb.h
 * @brief tern_pb — protobuf-c services over tern. Library libtern_pb.
 *
 * protoc-c's generated code is the stub layer: a client calls the generated
 * `foo__bar(service, &req, closure, data)` on a ProtobufCService made by
 * tern_pb_client_create(); a server hands its generated `Foo_Service` to
 * tern_pb_serve(). Messages travel as plain packed protobuf bytes, one tern
 * message each, with nothing in front.
 *
 * **Wire mapping.** A service is registered, on both sides, at a base
 * request type B that the two sides agree on (a constant in a shared
 * header). Method i (its index in the .proto: declaration order) travels as
 * tern request type B + i, so a service takes the types B .. B + n_methods - 1.
 * Consequences:
 *  - methods may only be APPENDED to a service: reordering or deleting one
 *    changes the indices (and so the meaning) of the others. A retired
 *    method stays in the .proto, its handler NULL.
 *  - leave room after B for the methods to come: services of one endpoint
 *    must not overlap (tern_pb_serve() refuses with -EEXIST).
 *  - a raw tern caller can talk to a tern_pb server (and back): send the
 *    packed input message with tern_call() at type B + i.
 *
 * **Status codes and messages.** A handler fails with a code of tern.h's
 * enum tern_status_code and a message by calling tern_pb_respond_status()
 * instead of its closure (as a gRPC handler returns a Status); the caller
 * sees that code and message (tern_pb_last_code(), tern_pb_last_message(),
 * tern_pb_call_sync_status()) and, as status, the code's errno
 * (tern_status_to_errno(): NOT_FOUND is -ENOENT, ...). The other failures
 * have the code their errno maps to (tern_status_from_errno()) and no
 * message. The errno values a caller sees (a closure gets NULL,
 * tern_pb_last_status() and tern_pb_call()'s done get them):
 *  - -ENOENT: unknown method: an index the server does not have (an older
 *    server), a NULL handler slot, or nothing registered at that type;
 *  - -EPROTO: the server could not decode the request as the method's
 *    input message;
 *  - -EREMOTEIO (#TERN_PB_EHANDLER, code TERN_STATUS_UNKNOWN): the handler
 *    failed without a status: it called its closure with NULL (protobuf-c's
 *    failure convention), or with a message of the wrong type;
 *  - the errno of the code the handler answered with tern_pb_respond_status();
 *  - -EMSGSIZE: the request or the response is over an endpoint's message
 *    limit (or its memory limit);
 *  - -EBADMSG: the client could not decode the response;
 *  - -ECANCELED: the call was cancelled (session closed, endpoint destroyed,
 *    or the server released its tern_pb state while the handler held it);
 *  - every other tern error: -ETIMEDOUT, -ECONNRESET, -EBUSY, -ENOTCONN,
 *    -ENOMEM, ... (see tern_call()).
 *
 * **Memory.** No malloc per call once warm: requests and responses are
 * packed straight into msgbufs; messages are unpacked with arena allocators
 * (a bump allocator whose free is a no-op) that are reset, not freed, and
 * pooled. An arena that had to grow during a use trades its extra chunks,
 * at the reset, for one chunk the size of that use, so a workload's sizes
 * stop costing mallocs after one call each; it keeps at most
 * #TERN_PB_ARENA_KEEP bytes that way. A call that needs more (a message with
 * megabytes of fields) mallocs its overflow and frees it when done.
 *
 * **Threading.** As tern: every function on the thread that owns the
 * endpoint, unless its comment says otherwise. Closures and handlers run
 * inside tern_poll() on that thread.
 */
#ifndef TERN_PB_H
#define TERN_PB_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "tern.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Status of a call whose handler failed (closure called with NULL). */
#define TERN_PB_EHANDLER (-EREMOTEIO)

/** Bytes an arena keeps between uses (the rest goes back to malloc). */
#define TERN_PB_ARENA_KEEP (256u * 1024u)

struct tern_pb_arena;

/* ------------------------------------------------------------------ */
/** @name Arenas */
/* ------------------------------------------------------------------ */

/**
 * Create an arena: a ProtobufCAllocator whose alloc bumps a pointer (16-byte
 * aligned) and whose free does nothing; everything goes at once with
 * tern_pb_arena_reset(). Any thread (an arena is used by one thread at a time).
 * @return 0 and *out set, or -ENOMEM.
 */
int tern_pb_arena_create(struct tern_pb_arena **out);

/** Forget everything allocated; memory is kept for reuse (see the top of
 *  this file). Messages unpacked into it become invalid. */
void tern_pb_arena_reset(struct tern_pb_arena *a);

/** Free the arena and all its memory. NULL is a no-op. */
void tern_pb_arena_destroy(struct tern_pb_arena *a);

/** The arena as a protobuf-c allocator, e.g. for protobuf_c_message_unpack().
 *  Never call protobuf_c_message_free_unpacked() on what it allocated. */
ProtobufCAllocator *tern_pb_arena_allocator(struct tern_pb_arena *a);

/** Allocate n bytes (16-byte aligned) from the arena. @return NULL if out of memory. */
void *tern_pb_arena_alloc(struct tern_pb_arena *a, size_t n);

/* ------------------------------------------------------------------ */
/** @name Client */
/* ------------------------------------------------------------------ */

/**
 * Create a client for the service desc (e.g. `&foo__descriptor`) on session
 * s, with the service's methods at request types base_type + i. The result
 * is a ProtobufCService: pass it to the generated `foo__bar()` stubs, to
 * tern_pb_call() or tern_pb_call_sync().
 *
 * The generated stub's closure runs exactly once per call, inside
 * tern_poll(), with the response, or with NULL on any error (then
 * tern_pb_last_status() says which). The response (and everything it
 * points to) is valid only while the closure runs. If the call cannot even
 * be started (bad message, no memory, message too big, session failed) the
 * closure runs with NULL before the stub returns.
 *
 * The session must stay open while the client is used; destroy the client
 * first, or at least make no more calls once the session is closed.
 * @return 0 and *out set; -EINVAL (NULL argument, or base_type + n_methods
 *         past 65535); -ENOMEM.
 */
int tern_pb_client_create(struct tern_session *s, const ProtobufCServiceDescriptor *desc,
			  uint16_t base_type, ProtobufCService **out);

/**
 * Destroy a client (also reachable as protobuf_c_service_destroy()). Calls
 * still in flight are detached: their closures will not run; their memory
 * goes when tern ends them. Safe inside a closure. NULL is a no-op.
 */
void tern_pb_client_destroy(ProtobufCService *client);

/** Deadline of calls made through the generated stubs (invoke) from now on:
 *  0 = the endpoint's call_timeout_ns (the default). @return 0 or -EINVAL. */
int tern_pb_client_set_timeout(ProtobufCService *client, uint64_t timeout_ns);

/**
 * The status of the call whose closure is running now (or ran last) on this
 * thread: 0 when the closure got a response, else one of the codes above.
 * Set right before every closure of a tern_pb client runs. Any thread
 * (thread-local).
 */
int tern_pb_last_status(void);

/** The status code of that call (enum tern_status_code): 0 when the
 *  closure got a response; the code the handler answered with
 *  (tern_pb_respond_status()); else the code its status maps to
 *  (tern_status_from_errno()). Any thread (thread-local). */
int tern_pb_last_code(void);

/** The handler's message of that call: NUL-terminated UTF-8, "" if it gave
 *  none; valid until the next tern_pb closure or done runs on this thread.
 *  Any thread (thread-local). */
const char *tern_pb_last_message(void);

/** Status-carrying completion: status is 0 and resp the response (valid
 *  only during the call), or status < 0 and resp NULL. */
typedef void (*tern_pb_done_fn)(int status, const ProtobufCMessage *resp, void *ctx);

/**
 * Call method method_index of client's service with req; the untyped,
 * status-carrying form of the generated stubs. done runs exactly once,
 * inside tern_poll(), if this returns 0; never if it returns an error.
 * @param timeout_ns deadline from now (0 = the endpoint's call_timeout_ns).
 * @return 0; -EINVAL (not a tern_pb client, or req is not the method's input
 *         type); -ENOENT (method_index past the service's methods);
 *         -EMSGSIZE; -ENOMEM; or tern_call()'s errors.
 */
int tern_pb_call(ProtobufCService *client, unsigned method_index, const ProtobufCMessage *req,
		 tern_pb_done_fn done, void *ctx, uint64_t timeout_ns);

/**
 * Call and poll until the response arrives. On success *resp points to the
 * response, unpacked into arena; with arena NULL, into the client's own
 * sync arena, which the next tern_pb_call_sync() on this client (or
 * tern_pb_client_destroy()) resets: nothing to free either way.
 * Typical use, with the generated types:
 * @code
 *   Foo__Resp *r;
 *   int rc = tern_pb_call_sync(cli, 0, &req.base, (ProtobufCMessage **)&r, NULL, 0);
 * @endcode
 * @return 0; the call's status (see above, *resp set to NULL); -EDEADLK
 *         inside a handler or closure; tern_pb_call()'s errors.
 */
int tern_pb_call_sync(ProtobufCService *client, unsigned method_index, const ProtobufCMessage *req,
		      ProtobufCMessage **resp, struct tern_pb_arena *arena, uint64_t timeout_ns);

/**
 * tern_pb_call_sync() that also fills *st (may be NULL) with the call's
 * status code and the handler's message: code 0 and "" on success; the
 * code and message the handler answered with (tern_pb_respond_status());
 * else the code the returned error maps to, and "".
 * @return as tern_pb_call_sync().
 */
int tern_pb_call_sync_status(ProtobufCService *client, unsigned method_index,
			     const ProtobufCMessage *req, ProtobufCMessage **resp,
			     struct tern_pb_arena *arena, uint64_t timeout_ns, struct tern_status *st);

/* ------------------------------------------------------------------ */
/** @name Server */
/* ------------------------------------------------------------------ */

/**
 * Serve svc on ep: register tern handlers for request types base_type ..
 * base_type + n_methods - 1 with semantics flags (TERN_RRA, the default, or
 * TERN_RR for idempotent services).
 *
 * svc is typically a generated service: `static Foo_Service svc =
 * FOO__INIT(my_);` (do not call foo__init() after assigning handlers: it
 * clears them). Per request, tern_pb checks the method index and, when
 * svc->invoke is protobuf-c's generated dispatcher, that the handler slot
 * is not NULL (-ENOENT otherwise); unpacks the request into a pooled arena
 * (-EPROTO if it does not decode); calls svc->invoke(svc, i, input, closure,
 * closure_data). The handler calls closure(&reply, closure_data) exactly
 * once, now or later (a deferred reply: the input message, the arena and
 * the tern request live until then); the reply is packed straight into the
 * response msgbuf. closure(NULL, closure_data) answers #TERN_PB_EHANDLER.
 * A later closure must run on ep's thread (from a continuation, or a
 * function posted with tern_ep_post()).
 *
 * svc is not copied: it must outlive the registration.
 * @return 0; -EINVAL (NULL argument, flags, no methods, types past 65535);
 *         -EEXIST (overlaps a service already served on ep); -ENOMEM.
 */
int tern_pb_serve(struct tern_ep *ep, ProtobufCService *svc, uint16_t base_type, unsigned flags);

/**
 * Answer the request behind closure_data with a status code (1 ..
 * TERN_STATUS_MAX of tern.h's enum tern_status_code) and a message (a
 * NUL-terminated UTF-8 sentence, or NULL), instead of calling the closure:
 * the handler's failure as the caller will see it (tern_respond_status():
 * cached like any answer, a long message cut at a character boundary).
 * After it returns 0 (or -ECONNRESET) the request is answered: the closure
 * must not run. E.g. `return (void)tern_pb_respond_status(closure_data,
 * TERN_STATUS_NOT_FOUND, "no such key");`
 * @return 0; -EINVAL (closure_data is not a live request, the code is out
 *         of range or the message not UTF-8: logged, and the request is
 *         still unanswered); -ECONNRESET (the session went away meanwhile).
 */
int tern_pb_respond_status(void *closure_data, int code, const char *msg);

/**
 * Inside a handler (or until its closure runs): the tern request behind
 * closure_data, e.g. for tern_req_session() (to call the client back) or
 * tern_req_ep(). @return NULL if closure_data is not a live tern_pb request.
 */
struct tern_req *tern_pb_req(void *closure_data);

/**
 * Allocate n bytes from the request's arena: memory for building the reply
 * (strings, repeated fields, sub-messages) that lives until the closure has
 * packed it. @return NULL if out of memory.
 */
void *tern_pb_req_alloc(void *closure_data, size_t n);

/**
 * Release tern_pb's server state of ep: requests whose handlers have not
 * answered yet are answered -ECANCELED (their closures must not run after
 * this), the arena pool is freed, and the types served answer -ENOENT from
 * now on. Call it before tern_ep_destroy(ep) (the state is found by the ep
 * pointer, which a new endpoint may reuse). No-op if ep serves nothing.
 */
void tern_pb_ep_release(struct tern_ep *ep);

/** Server counters of one endpoint. */
struct tern_pb_stats {
	uint64_t requests;        /**< requests received for tern_pb services */
	uint64_t replies;         /**< replies sent (status 0) */
	uint64_t no_method;       /**< answered -ENOENT (index, NULL handler) */
	uint64_t bad_request;     /**< answered -EPROTO (did not decode) */
	uint64_t handler_failed;  /**< answered TERN_PB_EHANDLER */
	uint64_t statuses;        /**< answered with tern_pb_respond_status() */
	uint64_t too_big;         /**< replies that did not fit a msgbuf or the client */
	uint64_t no_memory;       /**< answered -ENOMEM (no arena) */
	uint64_t deferred;        /**< handlers that returned before replying */
	uint64_t in_flight;       /**< requests whose closure has not run yet */
	uint64_t arenas;          /**< arenas created (pool size, in use + idle) */
	uint64_t arena_mallocs;   /**< malloc() calls of the server's arenas, in total */
};

/** Fill *out with ep's tern_pb server counters (zeros if it serves
 *  nothing). Owner thread. @return 0 or -EINVAL. */
int tern_pb_ep_stats(struct tern_ep *ep, struct tern_pb_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* TERN_PB_H */
