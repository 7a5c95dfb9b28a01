/*
 * ws_fanout_peer.c: the floor of WebSocket fan-out on this machine, the
 * peer that stands beside ccm's figure in `bench/run web`.
 *
 *   ws_fanout_peer
 *
 * Speaks the same stdin protocol as bench/bench_web.c, so bench/run_web.py
 * drives both the same way: prints `PORT <port>` (127.0.0.1, port 0), then
 * reads `publish RATE SECONDS` (answers `PUBLISHED <sent> 0 <seconds>`)
 * and `quit`. The same bench_ws_clients connect to it.
 *
 * What it does, and nothing else: the RFC 6455 handshake (OpenSSL SHA-1
 * and base64 of the key), answers a client's "subscribe" with
 * "subscribed", pongs pings, and fans out events: frames of the same
 * bytes as ccm's (a task event, seq, ts and the "bench_ns" send time
 * filled in), published at the same rate on absolute deadlines by a
 * second thread. The publisher appends each frame to one shared byte log
 * and wakes the service thread through an eventfd only when a wake flag
 * goes 0 -> 1 (as ccm wakes its lws thread). Per loop turn the service
 * thread writes to each client everything it has not sent yet, straight
 * from the log, in send()s of at most 16 KiB while the socket takes them
 * (at most 64 per client per turn): the same per-client batching as ccm's
 * (one send per client per turn however many events arrived, ws.c
 * WEB__WS_BATCH and WEB__WRITE_BURST), with no copy, no store, no commit,
 * no poll over idle sockets (epoll). A client more than 1,024 frames
 * behind is dropped, as ccm's bounded queue would.
 *
 * The log is a ring of RING_BYTES addressed by absolute offsets; the
 * publisher could only overwrite bytes a client still needs by writing
 * the whole ring within one service turn (minutes of events at 1,000/s),
 * long after that client would have been dropped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_util.h"

#define MAX_CLIENTS 4096
#define RXBUF 4096
#define SEND_MAX 16384        /* per send(), as ccm's WEB__WS_BATCH */
#ifndef SENDS_PER_TURN
#define SENDS_PER_TURN 64     /* per client per turn, as ccm's WEB__WRITE_BURST */
#endif
#define QUEUE_FRAMES 1024     /* as ccm's ws_queue_max */
#define RING_BYTES (64u << 20) /* the shared log of frames */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

typedef enum pstate { P_HANDSHAKE, P_OPEN, P_LIVE } pstate_t;

typedef struct peer_client {
  int fd;
  pstate_t st;
  bool blocked; /* waiting for EPOLLOUT */
  uint64_t sent; /* absolute log offset sent up to */
  size_t len;
  unsigned char rx[RXBUF];
} peer_client_t;

typedef struct peer {
  int listen_fd, ep, wake_fd;
  peer_client_t *c[MAX_CLIENTS];
  /* The log: written by the publisher, read by the service thread. */
  unsigned char *ring;
  _Atomic uint64_t end; /* absolute offset of the log's end (release) */
  atomic_int wake_pending;
  atomic_bool quit;
  size_t frame_len; /* bytes of one event frame (for the drop limit; set
                     * before the publisher starts) */
} peer_t;

static void die(const char *what, const char *why)
{
  bench_die("ws_fanout_peer", what, why);
}

/* ------------------------------------------------------------- the log */

/* The event as ccm's bench_web publishes it (task 0 of its seed). */
static size_t event_payload(char *out, size_t cap, uint64_t seq)
{
  time_t now = time(NULL);
  struct tm tm;
  char ts[32];
  gmtime_r(&now, &tm);
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  int n = snprintf(
      out, cap,
      "{\"type\":\"event\",\"seq\":%llu,\"topic\":\"tasks\",\"ts\":\"%s\","
      "\"data\":{\"id\":\"e220a8397b1dcdaf1fdd7128f310c3898065b0c5\","
      "\"repo\":\"acme-widgets\",\"kind\":\"todo\",\"title\":\"Retry the "
      "upload with backoff (#0)\",\"path\":\"src/net/http_client.c\","
      "\"line\":1,\"column\":5,\"text\":\"retry with backoff on 503\","
      "\"authored_at\":0,\"first_seen\":1700000000000,\"last_seen\":"
      "1700000000000,\"labels\":[],\"issue_number\":0,\"attempts\":0,"
      "\"score\":{\"total\":8.0,\"value\":1.0,\"time_criticality\":4.0,"
      "\"risk_reduction\":3.0,\"job_size\":1.0},\"state\":\"new\","
      "\"pinned\":false,\"updated_at\":1700000000000,\"bench_ns\":%llu}}",
      (unsigned long long)seq, ts, (unsigned long long)bench_now_ns());
  return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* An unmasked text frame: header then payload; returns its length. */
static size_t frame_text(unsigned char *f, const char *payload, size_t len)
{
  size_t h = 2;
  f[0] = 0x81;
  if (len < 126) {
    f[1] = (unsigned char)len;
  } else {
    f[1] = 126;
    f[2] = (unsigned char)(len >> 8);
    f[3] = (unsigned char)len;
    h = 4;
  }
  memcpy(f + h, payload, len);
  return h + len;
}

static void ring_append(peer_t *p, const unsigned char *b, size_t len)
{
  uint64_t end = atomic_load_explicit(&p->end, memory_order_relaxed);
  for (size_t i = 0; i < len;) {
    size_t at = (size_t)((end + i) % RING_BYTES);
    size_t n = len - i < RING_BYTES - at ? len - i : RING_BYTES - at;
    memcpy(p->ring + at, b + i, n);
    i += n;
  }
  atomic_store_explicit(&p->end, end + len, memory_order_release);
}

static void wake_service(peer_t *p)
{
  if (atomic_exchange(&p->wake_pending, 1) == 0) {
    uint64_t one = 1;
    if (write(p->wake_fd, &one, sizeof(one)) < 0)
      die("eventfd write", strerror(errno));
  }
}

/* ---------------------------------------------------------- publishing */

static void sleep_until(uint64_t ns)
{
  struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ull),
                        .tv_nsec = (long)(ns % 1000000000ull)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
    ;
}

static void publish(peer_t *p, unsigned rate, unsigned seconds, uint64_t *seq)
{
  char payload[1024];
  unsigned char frame[1100];
  uint64_t total = (uint64_t)rate * seconds;
  uint64_t period = 1000000000ull / (rate ? rate : 1), start = bench_now_ns();
  for (uint64_t i = 0; i < total; i++) {
    sleep_until(start + i * period);
    size_t len = event_payload(payload, sizeof(payload), ++*seq);
    ring_append(p, frame, frame_text(frame, payload, len));
    wake_service(p);
  }
  printf("PUBLISHED %llu 0 %.3f\n", (unsigned long long)total,
         (double)(bench_now_ns() - start) / 1e9);
  fflush(stdout);
}

static void *publisher_main(void *arg)
{
  peer_t *p = arg;
  char line[256];
  uint64_t seq = 0;
  while (fgets(line, sizeof(line), stdin)) {
    unsigned rate = 0, seconds = 0;
    if (sscanf(line, "publish %u %u", &rate, &seconds) == 2)
      publish(p, rate, seconds, &seq);
    else if (!strncmp(line, "quit", 4))
      break;
  }
  atomic_store(&p->quit, true);
  wake_service(p);
  return NULL;
}

/* ----------------------------------------------------------- handshake */

/* Sec-WebSocket-Accept for @p key: base64(SHA-1(key + GUID)). */
static void accept_key(const char *key, size_t klen, char out[32])
{
  unsigned char cat[128], md[SHA_DIGEST_LENGTH];
  size_t glen = sizeof(WS_GUID) - 1;
  if (klen + glen > sizeof(cat))
    klen = sizeof(cat) - glen;
  memcpy(cat, key, klen);
  memcpy(cat + klen, WS_GUID, glen);
  SHA1(cat, klen + glen, md);
  EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
}

static int handshake(peer_client_t *c, size_t hdr_len)
{
  static const char name[] = "Sec-WebSocket-Key:";
  c->rx[hdr_len - 1] = '\0';
  char *k = strcasestr((char *)c->rx, name);
  if (!k)
    return -1;
  k += sizeof(name) - 1;
  while (*k == ' ')
    k++;
  size_t klen = strcspn(k, "\r\n");
  char acc[32], resp[256];
  accept_key(k, klen, acc);
  int n = snprintf(resp, sizeof(resp),
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                   "Sec-WebSocket-Protocol: ccm.v1.json\r\n\r\n",
                   acc);
  memmove(c->rx, c->rx + hdr_len, c->len - hdr_len);
  c->len -= hdr_len;
  c->st = P_OPEN;
  return bench_send_all(c->fd, resp, (size_t)n);
}

/* ------------------------------------------------------------- clients */

static void client_close(peer_t *p, unsigned i)
{
  close(p->c[i]->fd);
  free(p->c[i]);
  p->c[i] = NULL;
}

static void on_subscribe(peer_t *p, peer_client_t *c)
{
  static const char sub[] =
      "{\"type\":\"subscribed\",\"topics\":[\"tasks\"],\"seq\":0}";
  unsigned char f[sizeof(sub) + 4];
  size_t n = frame_text(f, sub, sizeof(sub) - 1);
  c->sent = atomic_load_explicit(&p->end, memory_order_acquire);
  c->st = P_LIVE;
  bench_send_all(c->fd, f, n);
}

/* Client frames (masked): subscribe, ping, close. -1: close it. */
static int on_frames(peer_t *p, peer_client_t *c)
{
  size_t off = 0;
  while (c->len - off >= 6) {
    unsigned char *b = c->rx + off;
    size_t plen = b[1] & 0x7f, h = 6;
    if (plen >= 126)
      return -1; /* our clients send small frames only */
    if (c->len - off < h + plen)
      break;
    unsigned char *m = b + 2, *d = b + h;
    for (size_t i = 0; i < plen; i++)
      d[i] ^= m[i % 4];
    unsigned op = b[0] & 0x0f;
    if (op == 0x8)
      return -1;
    if (op == 0x9) {
      unsigned char pong[2 + 125];
      pong[0] = 0x8A;
      pong[1] = (unsigned char)plen;
      memcpy(pong + 2, d, plen);
      bench_send_all(c->fd, pong, 2 + plen);
    } else if (op == 0x1 && memmem(d, plen, "\"subscribe\"", 11)) {
      on_subscribe(p, c);
    }
    off += h + plen;
  }
  memmove(c->rx, c->rx + off, c->len - off);
  c->len -= off;
  return 0;
}

static int on_readable(peer_t *p, peer_client_t *c)
{
  ssize_t k = recv(c->fd, c->rx + c->len, RXBUF - c->len - 1, 0);
  if (k < 0 && (errno == EAGAIN || errno == EINTR))
    return 0;
  if (k <= 0)
    return -1;
  c->len += (size_t)k;
  if (c->st == P_HANDSHAKE) {
    c->rx[c->len] = '\0';
    char *end = strstr((char *)c->rx, "\r\n\r\n");
    if (!end)
      return c->len + 1 < RXBUF ? 0 : -1;
    if (handshake(c, (size_t)(end + 4 - (char *)c->rx)))
      return -1;
  }
  return on_frames(p, c);
}

static void watch(peer_t *p, int fd, uint32_t events, uint64_t tag, int op)
{
  struct epoll_event ev = {.events = events, .data.u64 = tag};
  if (epoll_ctl(p->ep, op, fd, &ev))
    die("epoll_ctl", strerror(errno));
}

static void on_accept(peer_t *p)
{
  for (;;) {
    int fd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK);
    if (fd < 0)
      return;
    unsigned i = 0;
    while (i < MAX_CLIENTS && p->c[i])
      i++;
    peer_client_t *c = i < MAX_CLIENTS ? calloc(1, sizeof(*c)) : NULL;
    if (!c) {
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    p->c[i] = c;
    watch(p, fd, EPOLLIN, i, EPOLL_CTL_ADD);
  }
}

/* ------------------------------------------------------------- fan-out */

/* Send what @p c has not had yet, straight from the log, 16 KiB per
 * send() while the socket takes it. -1: drop the client. */
static int flush_client(peer_t *p, unsigned i, uint64_t end)
{
  peer_client_t *c = p->c[i];
  if (end - c->sent > (uint64_t)QUEUE_FRAMES * (p->frame_len ? p->frame_len : 1))
    return -1; /* a slow consumer */
  for (unsigned sends = 0; c->sent < end && sends < SENDS_PER_TURN; sends++) {
    size_t at = (size_t)(c->sent % RING_BYTES);
    size_t n = end - c->sent < SEND_MAX ? (size_t)(end - c->sent) : SEND_MAX;
    if (n > RING_BYTES - at)
      n = RING_BYTES - at;
    ssize_t k = send(c->fd, p->ring + at, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0 && errno == EAGAIN) {
      c->blocked = true;
      watch(p, c->fd, EPOLLIN | EPOLLOUT, i, EPOLL_CTL_MOD);
      return 0;
    }
    if (k <= 0)
      return -1;
    c->sent += (uint64_t)k;
  }
  if (c->blocked) {
    c->blocked = false;
    watch(p, c->fd, EPOLLIN, i, EPOLL_CTL_MOD);
  }
  return 0;
}

/* One turn of writes; returns whether a client still has bytes to go
 * (then the next turn must not wait). */
static bool fan_out(peer_t *p)
{
  uint64_t end = atomic_load_explicit(&p->end, memory_order_acquire);
  bool more = false;
  for (unsigned i = 0; i < MAX_CLIENTS; i++) {
    peer_client_t *c = p->c[i];
    if (c && c->st == P_LIVE && !c->blocked && c->sent < end) {
      if (flush_client(p, i, end))
        client_close(p, i);
      else
        more |= !c->blocked && c->sent < end;
    }
  }
  return more;
}

/* ---------------------------------------------------------------- main */

#define TAG_LISTEN ((uint64_t)1 << 32)
#define TAG_WAKE ((uint64_t)2 << 32)

static void on_client_event(peer_t *p, const struct epoll_event *ev)
{
  unsigned i = (unsigned)ev->data.u64;
  peer_client_t *c = p->c[i];
  if (!c)
    return;
  int rc = 0;
  if (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP))
    rc = on_readable(p, c);
  if (!rc && (ev->events & EPOLLOUT) && c->st == P_LIVE) {
    c->blocked = false;
    rc = flush_client(p, i,
                      atomic_load_explicit(&p->end, memory_order_acquire));
  }
  if (rc)
    client_close(p, i);
}

static void serve(peer_t *p)
{
  struct epoll_event evs[256];
  bool more = false;
  while (!atomic_load(&p->quit)) {
    int n = epoll_wait(p->ep, evs, 256, more ? 0 : 1000);
    if (n < 0 && errno != EINTR)
      die("epoll_wait", strerror(errno));
    for (int k = 0; k < n; k++) {
      if (evs[k].data.u64 == TAG_LISTEN) {
        on_accept(p);
      } else if (evs[k].data.u64 == TAG_WAKE) {
        uint64_t v;
        if (read(p->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
          die("eventfd read", strerror(errno));
        atomic_store(&p->wake_pending, 0);
      } else {
        on_client_event(p, &evs[k]);
      }
    }
    more = fan_out(p);
  }
}

static int listen_loopback(void)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
      listen(fd, 1024))
    die("listen", strerror(errno));
  return fd;
}

static int bound_port(int fd)
{
  struct sockaddr_in a;
  socklen_t l = sizeof(a);
  if (getsockname(fd, (struct sockaddr *)&a, &l))
    die("getsockname", strerror(errno));
  return ntohs(a.sin_port);
}

int main(void)
{
  static peer_t p;
  bench_raise_fd_limit(MAX_CLIENTS);
  p.ring = malloc(RING_BYTES);
  p.listen_fd = listen_loopback();
  p.ep = epoll_create1(0);
  p.wake_fd = eventfd(0, EFD_NONBLOCK);
  if (!p.ring || p.ep < 0 || p.wake_fd < 0)
    die("setup", strerror(errno));
  watch(&p, p.listen_fd, EPOLLIN, TAG_LISTEN, EPOLL_CTL_ADD);
  watch(&p, p.wake_fd, EPOLLIN, TAG_WAKE, EPOLL_CTL_ADD);
  char probe[1024];
  p.frame_len = 4 + event_payload(probe, sizeof(probe), 1);
  printf("PORT %d\n", bound_port(p.listen_fd));
  fflush(stdout);

  pthread_t pub;
  if (pthread_create(&pub, NULL, publisher_main, &p))
    die("pthread_create", "publisher");
  serve(&p);
  pthread_join(pub, NULL);
  for (unsigned i = 0; i < MAX_CLIENTS; i++)
    if (p.c[i])
      client_close(&p, i);
  close(p.wake_fd);
  close(p.ep);
  close(p.listen_fd);
  free(p.ring);
  return 0;
}
