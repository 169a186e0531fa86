/*
 * tern_pb_internal.h — what tern_pb's three files share: the arena's
 * layout (a pb_call embeds one, with its first chunk inline) and the
 * decode helpers. Not installed; nothing here is exported.
 */
#ifndef TERN_PB_INTERNAL_H
#define TERN_PB_INTERNAL_H

#include <stdalign.h>

#include "tern_pb.h"

#define ARENA_ALIGN 16u

struct chunk {
	struct chunk *next;
	size_t cap;
	alignas(ARENA_ALIGN) unsigned char data[];
};

struct tern_pb_arena {
	ProtobufCAllocator pa;  /* alloc/free/allocator_data = this */
	struct chunk *head;     /* chunks, in allocation order */
	struct chunk *cur;      /* the one being bumped */
	struct chunk *fixed;    /* an inline chunk (never freed), or NULL */
	size_t used;            /* bytes of cur handed out */
	size_t total;           /* bytes handed out since the reset */
	size_t limit;           /* total may not pass this (SIZE_MAX: no limit) */
	int failed;             /* an allocation failed since the reset */
	int grew;               /* a chunk was malloc'd since the reset */
	uint64_t *mallocs;      /* where chunk mallocs are counted */
	uint64_t own_mallocs;
};

/* Set a up empty; fixed is an inline first chunk it never frees (or NULL). */
void pb_arena_init(struct tern_pb_arena *a, struct chunk *fixed);
/* Free a's chunks (not the inline one); a stays usable, empty. */
void pb_arena_fini(struct tern_pb_arena *a);

/* Can a message of type d nest a message of its own type? (Then its wire
 * bytes are depth-checked before protobuf-c's recursive unpack sees them.) */
int pb_type_recursive(const ProtobufCMessageDescriptor *d);

/* Unpack len bytes as d into a, depth-checked if recursive, with a's growth
 * capped for this decode. @return the message, or NULL with *err set:
 * bad_err if the bytes do not decode, -ENOMEM if the arena ran out. */
ProtobufCMessage *pb_decode(const ProtobufCMessageDescriptor *d, int recursive,
			    struct tern_pb_arena *a, const void *data, size_t len, int bad_err,
			    int *err);

/* A msgbuf of n bytes: 0; -EMSGSIZE when n is what ep cannot hold; -ENOMEM. */
int pb_msg_alloc(struct tern_ep *ep, size_t n, struct tern_msg **out);

#endif
