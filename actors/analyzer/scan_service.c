/*
 * scan_service.c: see scan_service.h.
 */
#include "actors/analyzer/scan_service.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "actors/analyzer/analyzer.h"
#include "protocol/proto.h"
#include "runtime/timer.h"

#define SVC_MSG_BEGIN 0x5C000101u
#define SVC_MSG_TICK 0x5C000102u
/* the control plane's request type (web/web.h: WEB_MSG_SCAN) */
#define SVC_WEB_MSG_SCAN 0x5701u

typedef struct svc {
  const scan_service_opts_t *o;
  rt_runtime_t *rt;
  bool running[SCAN_SERVICE_MAX_REPOS];
  bool again[SCAN_SERVICE_MAX_REPOS];
  bool again_full[SCAN_SERVICE_MAX_REPOS];
  unsigned since_full[SCAN_SERVICE_MAX_REPOS]; /* scans since a full one */
  /* the running scan's settings: the repository's, full or not */
  scanner_opts_t cur[SCAN_SERVICE_MAX_REPOS];
} svc_t;

/* One log line: the hook's, else stderr; nothing when quiet. */
__attribute__((format(printf, 4, 5)))
static void say(const svc_t *s, bool error, const char *event,
                const char *fmt, ...)
{
  char line[1024];
  va_list ap;
  if (s->o->quiet)
    return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (s->o->log)
    s->o->log(s->o->log_ud, error, event, line);
  else
    fprintf(stderr, "ccm: %s\n", line);
}

static int repo_index(const svc_t *s, const char *repo)
{
  for (size_t i = 0; i < s->o->nrepos; i++) {
    if (!strcmp(s->o->repos[i].repo, repo))
      return (int)i;
  }
  return -1;
}

static void start_scan(svc_t *s, int i, bool full)
{
  if (s->running[i]) {
    s->again[i] = true;
    s->again_full[i] |= full;
    return;
  }
  /* incremental scans leave duplicated blocks as they were: refresh them
   * now and then */
  if (++s->since_full[i] >= SCAN_SERVICE_FULL_EVERY)
    full = true;
  if (full)
    s->since_full[i] = 0;
  s->cur[i] = s->o->repos[i];
  s->cur[i].full = full;
  int rc = scanner_start(s->rt, &s->cur[i], s->o->analyzer);
  if (rc != 0) {
    say(s, true, "scan.start_failed", "scan of %s could not start: %s",
        s->o->repos[i].repo, rt_strerror(rc));
    return;
  }
  s->running[i] = true;
  s->again[i] = s->again_full[i] = false;
}

static void scan_all(svc_t *s)
{
  for (size_t i = 0; i < s->o->nrepos; i++)
    start_scan(s, (int)i, false);
}

/* A SCAN_REQUEST for one repository (unknown ids are ignored: the control
 * plane checks them against its own list). */
static void on_request(svc_t *s, rt_msg_t *msg)
{
  size_t len;
  const void *data = rt_msg_data(msg, &len);
  proto_msg_t m;
  if (proto_msgpack_decode(data, len, &m, NULL, 0) != 0)
    return;
  if (m.type == PROTO_SCAN_REQUEST) {
    int i = repo_index(s, m.u.scan_request.repo);
    if (i >= 0)
      start_scan(s, i, m.u.scan_request.full);
  }
  proto_msg_fini(&m);
}

static void on_summary(svc_t *s, rt_msg_t *msg)
{
  size_t len;
  const analyzer_summary_t *sum = rt_msg_data(msg, &len);
  if (len != sizeof *sum)
    return;
  say(s, sum->failed_writes != 0, "scan.done",
      "scanned %s: %llu new, %llu seen again, %llu reopened, %llu "
      "resolved%s", sum->repo, (unsigned long long)sum->created,
      (unsigned long long)sum->updated, (unsigned long long)sum->reopened,
      (unsigned long long)sum->resolved,
      sum->failed_writes ? " (some store writes failed)" : "");
}

/* The monitor turns each finished scan into a `repository.scanned`
 * webhook (docs/monitor.md): a copy of the SCAN_DONE, when one runs. */
static void tell_monitor(svc_t *s, const void *data, size_t len)
{
  rt_actor_t *monitor = NULL;
  rt_msg_t *copy = NULL;
  if (rt_actor_lookup(s->rt, SCAN_SERVICE_MONITOR, &monitor) != 0)
    return;
  if (rt_msg_new(PROTO_SCAN_DONE, data, len, &copy) == 0)
    rt_send(monitor, &copy); /* consumes the copy, sent or not */
  rt_actor_release(monitor);
}

static void on_done(svc_t *s, rt_msg_t *msg)
{
  size_t len;
  const void *data = rt_msg_data(msg, &len);
  proto_msg_t m;
  tell_monitor(s, data, len);
  if (proto_msgpack_decode(data, len, &m, NULL, 0) != 0)
    return;
  int i = repo_index(s, m.u.scan_done.repo);
  if (m.u.scan_done.error)
    say(s, true, "scan.failed", "scan of %s failed: %s", m.u.scan_done.repo,
        m.u.scan_done.error);
  proto_msg_fini(&m);
  if (i < 0)
    return;
  s->running[i] = false;
  if (s->again[i])
    start_scan(s, i, s->again_full[i]);
}

static int svc_start(rt_ctx_t *ctx, void *state, const void *arg)
{
  svc_t *s = state;
  s->o = arg;
  s->rt = rt_ctx_runtime(ctx);
  return 0;
}

static void svc_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg)
{
  svc_t *s = state;
  switch (rt_msg_type(msg)) {
  case SVC_MSG_BEGIN:
    scan_all(s);
    if (s->o->interval_ms)
      rt_timer_start(s->rt, rt_self(ctx), SVC_MSG_TICK, s->o->interval_ms,
                     s->o->interval_ms, NULL);
    break;
  case SVC_MSG_TICK:
    scan_all(s);
    break;
  case SVC_WEB_MSG_SCAN:
  case PROTO_SCAN_REQUEST:
    on_request(s, msg);
    break;
  case ANALYZER_MSG_SUMMARY:
    on_summary(s, msg);
    break;
  case PROTO_SCAN_DONE:
    on_done(s, msg);
    break;
  default:
    break;
  }
}

static const rt_actor_type_t svc_type = {
    .name = "scanner",
    .state_size = sizeof(svc_t),
    .on_start = svc_start,
    .on_msg = svc_msg,
};

int scan_service_spawn(rt_runtime_t *rt, const scan_service_opts_t *opts,
                       rt_actor_t **out)
{
  rt_spawn_opts_t so = {.name = "scanner"};
  return rt_actor_spawn(rt, &svc_type, opts, &so, out);
}

int scan_service_begin(rt_actor_t *service)
{
  rt_msg_t *m = NULL;
  int rc = rt_msg_new(SVC_MSG_BEGIN, NULL, 0, &m);
  if (rc == 0 && (rc = rt_send(service, &m)) != 0)
    rt_msg_free(m);
  return rc;
}
