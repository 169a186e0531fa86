/*
 * stub.h — the inner driver the faults tests put under the decorator
 * ("stub"), so what faults hands down and asks for can be seen exactly:
 * tx_burst takes at most `budget` packets a call and records the first 8
 * bytes of each header it takes; rx_burst delivers `pending` copies of
 * `pkt`; wait records the timeout it is given and, with wait_moves_clock,
 * moves the virtual clock (vclock.h) that far, as a sleep that ran out.
 * Open resets it all: budget unlimited, nothing pending, the clock left
 * alone. One instance at a time.
 */
#ifndef TERN_TEST_FAULTS_STUB_H
#define TERN_TEST_FAULTS_STUB_H

#include <stdbool.h>
#include <stdint.h>

#include "driver.h"

#define STUB_TAGS  1024u
#define STUB_WAITS 8u

struct stub {
	struct tern_drv drv;
	unsigned budget;          /* packets tx_burst still takes */
	unsigned n;               /* packets it took (tags[] holds the first STUB_TAGS) */
	uint64_t tags[STUB_TAGS]; /* first 8 header bytes of each */
	unsigned pending;         /* datagrams rx_burst still delivers */
	uint8_t pkt[128];         /* what each of them holds */
	unsigned waits;           /* wait calls */
	uint64_t wait_ns[STUB_WAITS]; /* the timeouts of the first STUB_WAITS */
	uint64_t waited;          /* the last one's */
	bool wait_moves_clock;
};

extern struct stub stub;
extern const struct tern_drv_ops stub_ops; /* tern_drv_register() it */

#endif
