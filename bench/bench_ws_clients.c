/*
 * bench_ws_clients.c: many WebSocket clients in one process, the client
 * side of `bench/run web` (bench/run_web.py; bench_web.c publishes).
 *
 *   bench_ws_clients PORT N
 *
 * Opens N connections to ws://127.0.0.1:PORT/ws (subprotocol ccm.v1.json,
 * at most 64 handshakes in flight), subscribes each to "tasks", and prints
 * `READY <n>` once every client has its "subscribed" answer. Then it
 * waits for one line on stdin:
 *
 *   expect E T   every client should receive E events; stop when all
 *                have, or T seconds after this line, whichever is first
 *
 * and prints `RESULT <clients> <expected> <received> <errors> <closed>
 * <p50_us> <p99_us> <max_us>`: delivery latency over every event every
 * client received, from the "bench_ns" (CLOCK_MONOTONIC) the publisher put
 * in the event's data to the moment the read() that brought the frame
 * returned (10 us buckets, 10 s at most); `errors` counts error messages (slow_consumer, ...), `closed`
 * connections the server closed.
 *
 * A plain epoll loop with a minimal RFC 6455 client (masked frames out,
 * unmasked frames in, pings answered): no client library whose own
 * buffering would sit inside the measured latency. One thread, so it
 * takes one of the two cores at most; a 1 MiB receive buffer per
 * connection (RCVBUF: why) so that a moment without a CPU does not turn
 * into TCP zero-window and retransmission stalls. The same clients
 * measure ccm (bench_web) and its floor (peers/ws_fanout_peer.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_util.h"

#define HANDSHAKES_IN_FLIGHT 64
#define RXBUF 65536
/* Receive buffer per client: while this process waits for a CPU the
 * events pile up in the kernel, and with the autotuned default (128 KiB
 * to start, much of it skb overhead for small sends) the window closes,
 * the receive queue is pruned and loopback TCP falls back on its
 * zero-window probes and retransmission timers (200 ms and up): seconds
 * of "latency" with both processes idle (nstat: TCPToZeroWindowAdv,
 * PruneCalled, TCPLossProbes), which measures the client's TCP, not the
 * server. 1 MiB (the kernel doubles it) holds seconds of events. */
#define RCVBUF (1 << 20)
#define HIST_STEP_US 10 /* latency buckets of 10 us ... */
#define HIST_N 1000000 /* ... up to 10 s */

typedef enum cstate { C_IDLE, C_CONNECTING, C_HANDSHAKE, C_SUBSCRIBING,
                      C_READY, C_CLOSED } cstate_t;

typedef struct client {
  int fd;
  cstate_t st;
  bool finished; /* got every expected event, or closed */
  uint64_t events;
  size_t len; /* bytes in rx */
  unsigned char rx[RXBUF];
} client_t;

typedef struct swarm {
  int port, ep;
  unsigned n, started, in_flight, ready, closed, finished;
  client_t *c;
  uint64_t expect, errors, received;
  uint32_t *hist; /* HIST_N + 1 buckets, the last one for overflow */
} swarm_t;

static void die(const char *what, const char *why)
{
  bench_die("bench_ws_clients", what, why);
}

/* One masked client frame (payload under 126 bytes). */
static int send_frame(int fd, unsigned opcode, const void *data, size_t len)
{
  unsigned char f[6 + 125];
  const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  if (len > 125)
    return -1;
  f[0] = (unsigned char)(0x80 | opcode);
  f[1] = (unsigned char)(0x80 | len);
  memcpy(f + 2, mask, 4);
  for (size_t i = 0; i < len; i++)
    f[6 + i] = ((const unsigned char *)data)[i] ^ mask[i % 4];
  return bench_send_all(fd, f, 6 + len);
}

/* ----------------------------------------------------------- connecting */

static void watch(swarm_t *s, unsigned i, uint32_t events, int op)
{
  struct epoll_event ev = {.events = events, .data.u32 = i};
  if (epoll_ctl(s->ep, op, s->c[i].fd, &ev))
    die("epoll_ctl", strerror(errno));
}

static void start_connect(swarm_t *s, unsigned i)
{
  client_t *c = &s->c[i];
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0)
    die("socket", strerror(errno));
  int one = 1, rcvbuf = RCVBUF;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)s->port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) && errno != EINPROGRESS)
    die("connect", strerror(errno));
  c->st = C_CONNECTING;
  watch(s, i, EPOLLOUT, EPOLL_CTL_ADD);
  s->in_flight++;
}

static void start_more(swarm_t *s)
{
  while (s->started < s->n && s->in_flight < HANDSHAKES_IN_FLIGHT)
    start_connect(s, s->started++);
}

static void send_upgrade(swarm_t *s, unsigned i)
{
  char req[512];
  int n = snprintf(req, sizeof(req),
                   "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Protocol: ccm.v1.json\r\n\r\n",
                   s->port);
  if (bench_send_all(s->c[i].fd, req, (size_t)n))
    die("upgrade request", strerror(errno));
  s->c[i].st = C_HANDSHAKE;
  watch(s, i, EPOLLIN, EPOLL_CTL_MOD);
}

/* The 101 answer is in rx: drop it, subscribe, keep what follows. */
static void on_upgraded(swarm_t *s, client_t *c, size_t hdr_len)
{
  if (strncmp((char *)c->rx, "HTTP/1.1 101", 12) != 0)
    die("upgrade refused", (char *)c->rx);
  memmove(c->rx, c->rx + hdr_len, c->len - hdr_len);
  c->len -= hdr_len;
  static const char sub[] = "{\"type\":\"subscribe\",\"topics\":[\"tasks\"]}";
  if (send_frame(c->fd, 0x1, sub, sizeof(sub) - 1))
    die("subscribe", strerror(errno));
  c->st = C_SUBSCRIBING;
}

/* ------------------------------------------------------------- messages */

static void count_latency(swarm_t *s, const char *msg, size_t len,
                          uint64_t at)
{
  static const char key[] = "\"bench_ns\":";
  const size_t klen = sizeof(key) - 1;
  /* The publishers put it last (`..."bench_ns":123}}`): read it back from
   * the end; a whole-message memmem per event was a sixth of this
   * process's CPU. Anything else: search. */
  size_t e = len;
  while (e && msg[e - 1] == '}')
    e--;
  size_t d = e;
  while (d && msg[d - 1] >= '0' && msg[d - 1] <= '9')
    d--;
  uint64_t sent = 0;
  if (d < e && d >= klen && !memcmp(msg + d - klen, key, klen)) {
    for (size_t i = d; i < e; i++)
      sent = sent * 10 + (uint64_t)(msg[i] - '0');
  } else {
    const char *p = memmem(msg, len, key, klen);
    if (!p)
      return;
    sent = strtoull(p + klen, NULL, 10);
  }
  uint64_t b = at > sent ? (at - sent) / 1000 / HIST_STEP_US : 0;
  s->hist[b < HIST_N ? b : HIST_N]++;
  s->received++;
}

static void finish(swarm_t *s, client_t *c)
{
  if (!c->finished) {
    c->finished = true;
    s->finished++;
  }
}

static void on_text(swarm_t *s, client_t *c, char *msg, size_t len,
                    uint64_t at)
{
  if (len > 20 && !memcmp(msg, "{\"type\":\"event\"", 15)) {
    c->events++;
    count_latency(s, msg, len, at);
    if (s->expect && c->events == s->expect)
      finish(s, c);
  } else if (memmem(msg, len, "\"type\":\"subscribed\"", 19)) {
    if (c->st == C_SUBSCRIBING) {
      c->st = C_READY;
      s->ready++;
      s->in_flight--;
    }
  } else if (memmem(msg, len, "\"type\":\"error\"", 14)) {
    s->errors++;
  }
}

/* Bytes of a frame's header (0: not complete yet) and its payload length. */
static size_t frame_header(const unsigned char *b, size_t have, uint64_t *plen)
{
  if (have < 2)
    return 0;
  size_t h = 2 + ((b[1] & 0x80) ? 4 : 0);
  uint64_t n = b[1] & 0x7f;
  if (n == 126) {
    if (have < 4)
      return 0;
    n = ((uint64_t)b[2] << 8) | b[3];
    h += 2;
  } else if (n == 127) {
    if (have < 10)
      return 0;
    n = 0;
    for (int k = 0; k < 8; k++)
      n = (n << 8) | b[2 + k];
    h += 8;
  }
  *plen = n;
  return have >= h ? h : 0;
}

static void close_client(swarm_t *s, client_t *c)
{
  if (c->st == C_CLOSED)
    return;
  if (c->st != C_READY)
    die("connection closed before it was ready", "");
  close(c->fd);
  c->st = C_CLOSED;
  s->closed++;
  finish(s, c);
}

/* Handle every complete frame in rx; keep a partial one. */
static void on_frames(swarm_t *s, client_t *c, uint64_t at)
{
  size_t off = 0;
  for (;;) {
    uint64_t plen = 0;
    size_t h = frame_header(c->rx + off, c->len - off, &plen);
    if (!h)
      break;
    if (h + plen > RXBUF)
      die("frame", "larger than the receive buffer");
    if (c->len - off < h + plen)
      break;
    unsigned op = c->rx[off] & 0x0f;
    char *payload = (char *)c->rx + off + h;
    if (op == 0x1)
      on_text(s, c, payload, (size_t)plen, at);
    else if (op == 0x9)
      send_frame(c->fd, 0xA, payload, plen < 125 ? (size_t)plen : 125);
    else if (op == 0x8) {
      close_client(s, c);
      return;
    }
    off += h + (size_t)plen;
  }
  memmove(c->rx, c->rx + off, c->len - off);
  c->len -= off;
}

static void on_readable(swarm_t *s, client_t *c)
{
  ssize_t k = recv(c->fd, c->rx + c->len, RXBUF - c->len - 1, 0);
  if (k < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (k <= 0) {
    close_client(s, c);
    return;
  }
  uint64_t at = bench_now_ns();
  c->len += (size_t)k;
  if (c->st == C_HANDSHAKE) {
    c->rx[c->len] = '\0';
    char *end = strstr((char *)c->rx, "\r\n\r\n");
    if (!end)
      return;
    on_upgraded(s, c, (size_t)(end + 4 - (char *)c->rx));
  }
  on_frames(s, c, at);
}

static void on_event(swarm_t *s, const struct epoll_event *ev)
{
  client_t *c = &s->c[ev->data.u32];
  if (c->st == C_CONNECTING) {
    int e = 0;
    socklen_t l = sizeof(e);
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &l);
    if (e)
      die("connect", strerror(e));
    send_upgrade(s, ev->data.u32);
  } else if (c->st != C_CLOSED) {
    on_readable(s, c);
  }
}

/* Run the loop until @p until_ns (0: no deadline) or @p stop says so. */
static void run(swarm_t *s, uint64_t until_ns, bool (*stop)(const swarm_t *))
{
  struct epoll_event evs[256];
  while (!stop(s)) {
    int timeout = 100;
    if (until_ns) {
      uint64_t now = bench_now_ns();
      if (now >= until_ns)
        return;
      if ((until_ns - now) / 1000000 < 100)
        timeout = (int)((until_ns - now) / 1000000) + 1;
    }
    int n = epoll_wait(s->ep, evs, 256, timeout);
    if (n < 0 && errno != EINTR)
      die("epoll_wait", strerror(errno));
    for (int i = 0; i < n; i++)
      on_event(s, &evs[i]);
    start_more(s);
  }
}

static bool all_ready(const swarm_t *s) { return s->ready == s->n; }

static bool all_done(const swarm_t *s)
{
  return s->finished >= s->n;
}

/* ---------------------------------------------------------------- report */

static uint64_t percentile(const swarm_t *s, double p)
{
  uint64_t rank = (uint64_t)(p * (double)s->received), seen = 0;
  for (uint64_t b = 0; b <= HIST_N; b++) {
    seen += s->hist[b];
    if (seen > rank)
      return b * HIST_STEP_US;
  }
  return HIST_N * HIST_STEP_US;
}

static uint64_t max_latency(const swarm_t *s)
{
  for (uint64_t b = HIST_N + 1; b-- > 0;)
    if (s->hist[b])
      return b * HIST_STEP_US;
  return 0;
}

static void report(const swarm_t *s)
{
  printf("RESULT %u %llu %llu %llu %u %llu %llu %llu\n", s->n,
         (unsigned long long)s->expect, (unsigned long long)s->received,
         (unsigned long long)s->errors, s->closed,
         (unsigned long long)percentile(s, 0.50),
         (unsigned long long)percentile(s, 0.99),
         (unsigned long long)max_latency(s));
  fflush(stdout);
}

int main(int argc, char **argv)
{
  if (argc != 3)
    die("usage", "bench_ws_clients PORT N");
  swarm_t s = {.port = atoi(argv[1]), .n = (unsigned)atoi(argv[2])};
  if (s.port <= 0 || s.n == 0)
    die("usage", "bench_ws_clients PORT N");
  bench_raise_fd_limit(s.n);
  s.c = calloc(s.n, sizeof(*s.c));
  s.hist = calloc(HIST_N + 1, sizeof(*s.hist));
  s.ep = epoll_create1(0);
  if (!s.c || !s.hist || s.ep < 0)
    die("setup", strerror(errno));

  start_more(&s);
  run(&s, bench_now_ns() + 60ull * 1000000000ull, all_ready);
  if (!all_ready(&s))
    die("connecting", "not every client was subscribed within 60 s");
  printf("READY %u\n", s.ready);
  fflush(stdout);

  unsigned long long expect = 0;
  unsigned seconds = 0;
  if (scanf("expect %llu %u", &expect, &seconds) != 2)
    die("stdin", "expected `expect E T`");
  s.expect = expect;
  for (unsigned i = 0; i < s.n; i++)
    if (s.c[i].events >= s.expect)
      finish(&s, &s.c[i]);
  run(&s, bench_now_ns() + (uint64_t)seconds * 1000000000ull, all_done);
  report(&s);
  for (unsigned i = 0; i < s.n; i++)
    if (s.c[i].st != C_CLOSED)
      close(s.c[i].fd);
  free(s.c);
  free(s.hist);
  close(s.ep);
  return 0;
}
