/*
 * bench_util.h: the two helpers every bench/ program of the control plane
 * needs (bench_web.c, bench_ws_clients.c): a monotonic clock that both
 * processes of a run share (delivery latency is measured across them) and
 * a fatal error that names the program; and two for the WebSocket swarm
 * and its peer (bench_ws_clients.c, peers/ws_fanout_peer.c): a whole
 * message to a socket, and room for a thousand descriptors.
 */
#ifndef BENCH_BENCH_UTIL_H
#define BENCH_BENCH_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
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

/* Write all of @p len bytes to socket @p fd (small messages on a socket
 * with room): 0, or -1 when the connection failed. */
static inline int bench_send_all(int fd, const void *p, size_t len)
{
  const char *b = p;
  while (len) {
    ssize_t k = send(fd, b, len, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return -1;
    b += k;
    len -= (size_t)k;
  }
  return 0;
}

/* Let this process open @p n descriptors and a few more, as far as the
 * hard limit allows (the WebSocket swarm and its peer hold ~1,000). */
static inline void bench_raise_fd_limit(unsigned n)
{
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n + 64) {
    rl.rlim_cur = rl.rlim_max < n + 64 ? rl.rlim_max : n + 64;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

#endif /* BENCH_BENCH_UTIL_H */
