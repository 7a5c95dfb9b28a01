/*
 * bench_webhook_load.c: the second process of bench/run webhook: signed
 * GitHub deliveries POSTed to a webhook URL, open loop, with libcurl's
 * multi interface on one thread.
 *
 *   bench_webhook_load --url URL --body FILE --sig SIG --event push
 *                      --rate R --seconds S [--conns C] [--tag T]
 *
 * Delivery i is due at start + i/R; it is sent as soon as one of the C
 * keep-alive connections is free, and its latency is measured from the
 * time it was due to the end of the answer, so a slow answer that delays
 * the next ones is counted against them too (no coordinated omission).
 * The loop sleeps in curl's poll, woken by a socket or by a timerfd set to
 * the next due time: it never spins (the server shares two cores).
 * --rate 0 sends back to back on C connections (the most the server
 * takes). Every delivery has its own X-GitHub-Delivery ("T-i"), so each
 * is new to the server. Prints one JSON line: sent, ok (202s), errors,
 * seconds, rate (202s per second), p50_ms, p99_ms, max_ms.
 */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "bench/bench_util.h"

#define MAX_CONNS 64

static const char *prog = "bench_webhook_load";

typedef struct slot {
  CURL *easy;
  struct curl_slist *headers;
  uint64_t due_ns;
  bool busy;
} slot_t;

typedef struct load {
  const char *url, *body, *sig, *event, *tag;
  size_t body_len;
  double rate;
  double seconds;
  int conns;
  slot_t slots[MAX_CONNS];
  CURLM *multi;
  uint64_t *lat_ns;
  size_t n_lat, cap_lat, sent, ok, errors;
  int timer; /* timerfd: the next due time */
} load_t;

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
  (void)p;
  (void)arg;
  return size * n;
}

static char *read_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    bench_die(prog, path, "cannot open");
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
    bench_die(prog, path, "cannot read");
  fclose(f);
  buf[n] = '\0';
  *len = (size_t)n;
  return buf;
}

static void slot_send(load_t *l, slot_t *s, uint64_t due)
{
  char h_event[96], h_id[96], h_sig[128];
  snprintf(h_event, sizeof(h_event), "X-GitHub-Event: %s", l->event);
  snprintf(h_id, sizeof(h_id), "X-GitHub-Delivery: %s-%zu", l->tag, l->sent);
  snprintf(h_sig, sizeof(h_sig), "X-Hub-Signature-256: %s", l->sig);
  curl_slist_free_all(s->headers);
  s->headers = NULL;
  const char *hs[] = {"Content-Type: application/json", "Expect:", h_event,
                      h_id, h_sig};
  for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
    s->headers = curl_slist_append(s->headers, hs[i]);
  curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
  s->due_ns = due;
  s->busy = true;
  curl_multi_add_handle(l->multi, s->easy);
  l->sent++;
}

static slot_t *free_slot(load_t *l)
{
  for (int i = 0; i < l->conns; i++)
    if (!l->slots[i].busy)
      return &l->slots[i];
  return NULL;
}

static void collect(load_t *l)
{
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(l->multi, &left))) {
    if (m->msg != CURLMSG_DONE)
      continue;
    slot_t *s = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
    long status = 0;
    curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
    if (m->data.result == CURLE_OK && status == 202) {
      l->ok++;
      if (l->n_lat < l->cap_lat)
        l->lat_ns[l->n_lat++] = bench_now_ns() - s->due_ns;
    } else {
      l->errors++;
    }
    curl_multi_remove_handle(l->multi, m->easy_handle);
    s->busy = false;
  }
}

static int cmp_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void setup(load_t *l)
{
  l->multi = curl_multi_init();
  l->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (l->timer < 0)
    bench_die(prog, "timerfd", "cannot create");
  size_t cap = l->rate > 0 ? (size_t)(l->rate * l->seconds) + 16
                           : (size_t)(200000 * l->seconds) + 16;
  l->lat_ns = malloc(cap * sizeof(*l->lat_ns));
  l->cap_lat = cap;
  if (!l->multi || !l->lat_ns)
    bench_die(prog, "setup", "out of memory");
  for (int i = 0; i < l->conns; i++) {
    slot_t *s = &l->slots[i];
    s->easy = curl_easy_init();
    curl_easy_setopt(s->easy, CURLOPT_URL, l->url);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, l->body);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)l->body_len);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
  }
  curl_multi_setopt(l->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                    (long)l->conns);
}

/* Send what is due (or, closed loop, fill every free connection). */
static void send_due(load_t *l, uint64_t start, uint64_t now, uint64_t end)
{
  slot_t *s;
  while (now < end && (s = free_slot(l))) {
    uint64_t due = l->rate > 0
                       ? start + (uint64_t)((double)l->sent * 1e9 / l->rate)
                       : now;
    if (due > now)
      break;
    slot_send(l, s, due);
  }
}

/* Wake the poll at @p due_ns (CLOCK_MONOTONIC, absolute): a timerfd,
 * because curl's poll timeout counts whole milliseconds. */
static void arm_timer(load_t *l, uint64_t due_ns)
{
  struct itimerspec its = {
      .it_value = {.tv_sec = (time_t)(due_ns / 1000000000u),
                   .tv_nsec = (long)(due_ns % 1000000000u)}};
  if (due_ns == 0)
    its.it_value.tv_nsec = 1;
  timerfd_settime(l->timer, TFD_TIMER_ABSTIME, &its, NULL);
}

static void run(load_t *l)
{
  uint64_t start = bench_now_ns();
  uint64_t end = start + (uint64_t)(l->seconds * 1e9);
  int running = 1;
  for (;;) {
    uint64_t now = bench_now_ns();
    send_due(l, start, now, end);
    curl_multi_perform(l->multi, &running);
    collect(l);
    if (now >= end && l->ok + l->errors == l->sent)
      break;
    /* every connection busy: sleep until one answers (never spin: the
     * server shares the machine); else until the next delivery is due */
    struct curl_waitfd tick = {.fd = l->timer, .events = CURL_WAIT_POLLIN};
    if (l->rate > 0 && now < end && free_slot(l)) {
      uint64_t next = start + (uint64_t)((double)l->sent * 1e9 / l->rate);
      arm_timer(l, next);
    }
    curl_multi_poll(l->multi, &tick, 1, 10, NULL);
    if (tick.revents) {
      uint64_t expirations;
      if (read(l->timer, &expirations, sizeof(expirations)) < 0)
        expirations = 0;
    }
  }
  double secs = (double)(bench_now_ns() - start) / 1e9;
  qsort(l->lat_ns, l->n_lat, sizeof(*l->lat_ns), cmp_u64);
  double p50 = l->n_lat ? (double)l->lat_ns[l->n_lat / 2] / 1e6 : 0;
  double p99 = l->n_lat ? (double)l->lat_ns[(l->n_lat * 99) / 100] / 1e6 : 0;
  double max = l->n_lat ? (double)l->lat_ns[l->n_lat - 1] / 1e6 : 0;
  printf("{\"sent\":%zu,\"ok\":%zu,\"errors\":%zu,\"seconds\":%.3f,"
         "\"rate\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
         l->sent, l->ok, l->errors, secs, (double)l->ok / secs, p50, p99,
         max);
}

int main(int argc, char **argv)
{
  load_t l = {.event = "push", .tag = "bench", .conns = 4, .seconds = 5};
  const char *body_path = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--url"))
      l.url = v;
    else if (!strcmp(k, "--body"))
      body_path = v;
    else if (!strcmp(k, "--sig"))
      l.sig = v;
    else if (!strcmp(k, "--event"))
      l.event = v;
    else if (!strcmp(k, "--tag"))
      l.tag = v;
    else if (!strcmp(k, "--rate"))
      l.rate = atof(v);
    else if (!strcmp(k, "--seconds"))
      l.seconds = atof(v);
    else if (!strcmp(k, "--conns"))
      l.conns = atoi(v);
  }
  if (!l.url || !body_path || !l.sig || l.conns < 1 || l.conns > MAX_CONNS)
    bench_die(prog, "usage",
              "--url URL --body FILE --sig SIG [--rate R] [--seconds S] "
              "[--conns C] [--event E] [--tag T]");
  curl_global_init(CURL_GLOBAL_DEFAULT);
  char *body = read_file(body_path, &l.body_len);
  l.body = body;
  setup(&l);
  run(&l);
  for (int i = 0; i < l.conns; i++) {
    curl_easy_cleanup(l.slots[i].easy);
    curl_slist_free_all(l.slots[i].headers);
  }
  curl_multi_cleanup(l.multi);
  free(l.lat_ns);
  free(body);
  curl_global_cleanup();
  return 0;
}
