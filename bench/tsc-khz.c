/* Prints the host TSC rate in kHz, measured against CLOCK_MONOTONIC_RAW over
 * --ms milliseconds (default 500), and the spread of 5 such measurements:
 * the test guest under PVM reads the host's TSC unscaled (no TSC_CONTROL),
 * so this is the rate bench/blk-bench.py passes it as tsc_khz=. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One window; the TSC read is bracketed by two clock reads on each side so
 * a preemption between them shows as a wide bracket and is retried. */
static double measure_khz(unsigned ms)
{
	uint64_t a0, a1, t0, b0, b1, t1;

	do {
		a0 = now_ns();
		t0 = __rdtsc();
		a1 = now_ns();
	} while (a1 - a0 > 20000);
	struct timespec d = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&d, NULL);
	do {
		b0 = now_ns();
		t1 = __rdtsc();
		b1 = now_ns();
	} while (b1 - b0 > 20000);
	double ns = (double)((b0 + b1) / 2 - (a0 + a1) / 2);
	return (double)(t1 - t0) * 1e6 / ns;
}

int main(int argc, char **argv)
{
	unsigned ms = 500;
	double lo = 1e18, hi = 0, sum = 0;

	if (argc == 3 && !strcmp(argv[1], "--ms"))
		ms = (unsigned)strtoul(argv[2], NULL, 10);
	for (int i = 0; i < 5; i++) {
		double k = measure_khz(ms);
		sum += k;
		lo = k < lo ? k : lo;
		hi = k > hi ? k : hi;
	}
	printf("tsc_khz=%.0f spread_ppm=%.0f\n", sum / 5, (hi - lo) / (sum / 5) * 1e6);
	return 0;
}
