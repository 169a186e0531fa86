/*
 * vclock.h — tern_now_ns() for the faults driver's tests, which link no
 * protocol core: the real monotonic clock, or a virtual one a test sets
 * and advances (so link timings are exact and runs reproducible).
 */
#ifndef TERN_TEST_FAULTS_VCLOCK_H
#define TERN_TEST_FAULTS_VCLOCK_H

#include <stdint.h>

/* From now on tern_now_ns() returns t, and what vclock_set/advance make it. */
void vclock_start(uint64_t t);
/* Back to the real clock. */
void vclock_stop(void);
void vclock_set(uint64_t t);
void vclock_advance(uint64_t ns);
uint64_t vclock_now(void);

#endif
