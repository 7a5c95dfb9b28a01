/*
 * deliver.c: outgoing webhooks and alerts (design note: actor_int.h).
 *
 * Deliveries leave one at a time from a bounded queue: one POST per
 * runtime blocking job (hooks.c, libcurl), the next try of a failed one
 * after a one-shot timer (exponential backoff with jitter), so no thread
 * ever sleeps. Alert rules are evaluated after each sample; a firing or a
 * resolution is published on "alerts" and POSTed to the rule's URL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/monitor/actor_int.h"
#include "runtime/io.h"
#include "runtime/timer.h"

/* ------------------------------------------------------------ deliveries */

void mon__delivery_free(mon_delivery_t *d)
{
  if (!d)
    return;
  mon__post_free(d->post);
  rt_actor_release(d->reply_to);
  free(d);
}

static void post_job(void *arg, rt_msg_t **result)
{
  (void)result;
  mon_delivery_t *d = arg;
  d->err[0] = '\0';
  d->status = mon__post_once(d->post, d->timeout_ms, d->err, sizeof d->err);
  d->attempt++;
  if (!mon__send_ptr(d->reply_to, MON_MSG_POSTED, d))
    mon__delivery_free(d);
}

void mon__post_next(rt_ctx_t *ctx, mon_state_t *s)
{
  if (s->posting || !s->qlen)
    return;
  mon_delivery_t *d = s->queue[s->qhead];
  s->qhead = (s->qhead + 1) % QUEUE_MAX;
  s->qlen--;
  if (!d->reply_to)
    d->reply_to = rt_actor_retain(rt_self(ctx));
  if (rt_blocking_submit(s->rt, post_job, d, NULL) != 0) {
    s->sent_failed++;
    mon__delivery_free(d);
    return;
  }
  s->posting = true;
  s->attempts++;
}

/* Queue a POST of @p body (taken) to @p url; @p secret signs it. */
static void enqueue(rt_ctx_t *ctx, mon_state_t *s, const char *url,
                    const char *secret, const char *event, char *body,
                    size_t len, const char *delivery)
{
  mon_delivery_t *d = calloc(1, sizeof(*d));
  mon_post_t *p = calloc(1, sizeof(*p));
  if (!d || !p || !body) {
    free(d);
    free(p);
    free(body);
    return;
  }
  p->url = strdup(url);
  p->event = event ? strdup(event) : NULL;
  snprintf(p->delivery, sizeof p->delivery, "%s", delivery);
  p->body = body;
  p->len = len;
  if (secret && secret[0]) {
    char hex[65];
    mon__hmac_hex(secret, body, len, hex);
    p->signature = malloc(72);
    if (p->signature)
      snprintf(p->signature, 72, "sha256=%s", hex);
  }
  d->post = p;
  d->timeout_ms = s->m->cfg.retry.timeout_ms ? s->m->cfg.retry.timeout_ms
                                             : 10000;
  d->status = -1;
  if (s->qlen == QUEUE_MAX) { /* drop the oldest */
    mon__delivery_free(s->queue[s->qhead]);
    s->qhead = (s->qhead + 1) % QUEUE_MAX;
    s->qlen--;
    s->dropped++;
  }
  s->queue[(s->qhead + s->qlen) % QUEUE_MAX] = d;
  s->qlen++;
  mon__post_next(ctx, s);
}

static void delivery_id(mon_state_t *s, char out[33])
{
  snprintf(out, 33, "%016llx%016llx", (unsigned long long)mon__wall_ms(),
           (unsigned long long)mon__rand(s));
}

/* An outgoing webhook event to every hook that asked for it. */
void mon__emit_event(rt_ctx_t *ctx, mon_state_t *s, int bit,
                     const json_t *data)
{
  const monitor_config_t *cfg = &s->m->cfg;
  const char *name = cfg_event_name((unsigned)bit);
  for (size_t i = 0; i < cfg->nhooks; i++) {
    const monitor_hook_t *h = &cfg->hooks[i];
    if (!(h->events & (1u << bit)) || !h->url)
      continue;
    char id[33];
    delivery_id(s, id);
    size_t len = 0;
    char *body = mon__hook_body(name, id, mon__wall_ms(), data, &len);
    enqueue(ctx, s, h->url, h->secret, name, body, len, id);
  }
}

void mon__on_posted(rt_ctx_t *ctx, mon_state_t *s, mon_delivery_t *d)
{
  s->posting = false;
  const monitor_retry_t *r = &s->m->cfg.retry;
  if (d->status >= 200 && d->status < 300) {
    s->sent_ok++;
    mon__delivery_free(d);
  } else if (d->attempt >= r->attempts) {
    s->sent_failed++;
    fprintf(stderr, "ccm: monitor: webhook %s gave up after %u tries "
                    "(last: %d %s)\n",
            d->post->event ? d->post->event : "alert", d->attempt, d->status,
            d->err);
    mon__delivery_free(d);
  } else {
    /* Back to the head of the queue; the retry timer sends it again. */
    s->qhead = (s->qhead + QUEUE_MAX - 1) % QUEUE_MAX;
    s->queue[s->qhead] = d;
    s->qlen++;
    s->posting = true; /* nothing else leaves before this retry */
    unsigned delay = mon__backoff_ms(r, d->attempt + 1, mon__rand(s));
    if (rt_timer_start(s->rt, rt_self(ctx), MON_MSG_RETRY, delay, 0,
                       &s->retry_timer) != 0)
      s->posting = false;
    return;
  }
  mon__post_next(ctx, s);
}

/* ---------------------------------------------------------------- alerts */

double mon__alert_value(const mon_state_t *s, cfg_metric_t metric)
{
  switch (metric) {
  case CFG_METRIC_FAILURE_RATE:
    return mon__ring_mean(&s->outcomes);
  case CFG_METRIC_QUEUE_DEPTH:
    return s->have_stats ? (double)s->st.by_state[PROTO_STATE_READY] : NAN;
  case CFG_METRIC_MAILBOX_DEPTH: {
    double max = 0;
    for (size_t i = 0; i < s->nactors; i++)
      if (s->actors[i]->depth > max)
        max = s->actors[i]->depth;
    return max;
  }
  case CFG_METRIC_RATE_LIMIT_LEFT:
    return s->rl_remaining;
  case CFG_METRIC_STUCK_ACTORS: {
    double n = 0;
    for (size_t i = 0; i < s->nactors; i++)
      n += s->actors[i]->stuck;
    return n;
  }
  case CFG_METRIC_BUDGET_USED:
    return s->m->cfg.max_tasks_per_day
               ? s->day_tasks / s->m->cfg.max_tasks_per_day
               : NAN;
  default:
    return NAN;
  }
}

static void publish(rt_ctx_t *ctx, mon_state_t *s, const char *topic,
                    json_t *data)
{
  const monitor_config_t *cfg = &s->m->cfg;
  if (cfg->publish) {
    cfg->publish(cfg->publish_arg, topic, data);
    return;
  }
  /* No control plane: the event goes to the log (the web fan-out reads
   * events appended by others within its poll). */
  proto_msg_t m = {.type = PROTO_EVENT};
  m.u.event = (proto_event_t){.seq = 1, .topic = (char *)topic,
                              .ts = mon__wall_ms(), .data = data};
  mon__store_write(ctx, s, &m, NULL);
}

void mon__eval_alerts(rt_ctx_t *ctx, mon_state_t *s, int64_t now)
{
  const monitor_config_t *cfg = &s->m->cfg;
  for (size_t i = 0; i < cfg->nalerts; i++) {
    const cfg_alert_t *rule = &cfg->alerts[i];
    double v = mon__alert_value(s, rule->metric);
    mon_transition_t t = mon__alert_eval(rule, &s->alerts[i], v, now);
    if (t == MON_ALERT_NONE)
      continue;
    json_t *j = mon__alert_json(rule, t, v, now);
    if (!j)
      continue;
    publish(ctx, s, "alerts", j);
    if (rule->webhook_url) {
      char id[33];
      delivery_id(s, id);
      size_t len = 0;
      char *body = mon__hook_body("alert", id, now, j, &len);
      enqueue(ctx, s, rule->webhook_url, NULL, "alert", body, len, id);
    }
    json_decref(j);
  }
}

