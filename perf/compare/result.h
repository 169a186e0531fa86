/*
 * result.h — how every comparison client reports (header only, C and C++):
 * the result block or one JSON object with the keys perf/compare/run reads
 * (count, errors, calls_per_s, p50_us, p99_us, p999_us, max_us, mean_us,
 * then the program's own), and the latency CDF file, in tern-perf --cdf's
 * format: one "latency_us cumulative_fraction" line per non-empty bucket of
 * perf/hist.h's histogram (the bucket's lowest value), ascending.
 */
#ifndef TERN_COMPARE_RESULT_H
#define TERN_COMPARE_RESULT_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "hist.h"

static inline void result_print(const char *title, bool json, const struct hist *h, uint64_t errors,
				double calls_per_s, const char *extra_json)
{
	double p50 = (double)hist_quantile(h, 0.50) / 1e3;
	double p99 = (double)hist_quantile(h, 0.99) / 1e3;
	double p999 = (double)hist_quantile(h, 0.999) / 1e3;
	double max = h->count != 0 ? (double)h->max / 1e3 : 0;
	double mean = hist_mean(h) / 1e3;

	if (json) {
		printf("{\"count\": %" PRIu64 ", \"errors\": %" PRIu64 ", \"calls_per_s\": %.1f, "
		       "\"p50_us\": %.3f, \"p99_us\": %.3f, \"p999_us\": %.3f, \"max_us\": %.3f, "
		       "\"mean_us\": %.3f%s%s}\n",
		       h->count, errors, calls_per_s, p50, p99, p999, max, mean,
		       extra_json != NULL && *extra_json ? ", " : "", extra_json != NULL ? extra_json : "");
	} else {
		printf("%s\n", title);
		printf("  count      %" PRIu64 "\n", h->count);
		printf("  errors     %" PRIu64 "\n", errors);
		printf("  calls/s    %.0f\n", calls_per_s);
		printf("  p50        %.2f us\n", p50);
		printf("  p99        %.2f us\n", p99);
		printf("  p99.9      %.2f us\n", p999);
		printf("  max        %.2f us\n", max);
		printf("  mean       %.2f us\n", mean);
	}
	fflush(stdout);
}

/* Write h's CDF to path. Returns 0, or -1 (and says why on stderr). */
static inline int result_write_cdf(const char *path, const struct hist *h)
{
	FILE *f = fopen(path, "w");
	uint64_t seen = 0;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	for (unsigned i = 0; i < HIST_BUCKETS && h->count != 0; i++) {
		if (h->b[i] == 0)
			continue;
		seen += h->b[i];
		fprintf(f, "%.3f %.6f\n", (double)hist_bucket_low(i) / 1e3, (double)seen / (double)h->count);
	}
	if (fclose(f) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

#endif
