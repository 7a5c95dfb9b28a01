/*
 * bench_util.h: the two helpers every bench/ program of the control plane
 * needs (bench_web.c, bench_ws_clients.c): a monotonic clock that both
 * processes of a run share (delivery latency is measured across them) and
 * a fatal error that names the program.
 */
#ifndef BENCH_BENCH_UTIL_H
#define BENCH_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds: one clock for every process here. */
static inline uint64_t bench_now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Print "PROG: what: why" and exit 1. */
static inline void bench_die(const char *prog, const char *what,
                             const char *why)
{
  fprintf(stderr, "%s: %s: %s\n", prog, what, why);
  exit(1);
}

#endif /* BENCH_BENCH_UTIL_H */
