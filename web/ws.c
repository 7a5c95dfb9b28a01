/*
 * ws.c: the WebSocket endpoint /ws and the event fan-out. Service thread
 * only. See web_int.h for the design (hub, catching up, slow consumers)
 * and web/README.md for the messages.
 *
 * A client (the lws per-session data) holds: its subprotocol (JSON text or
 * msgpack binary frames, same maps), its topics as bits, a ring of frame
 * references bounded by ws_queue_max (one spare slot carries the final
 * error of a client being dropped), the bytes of the message it is
 * sending us (capped at ws_max_message), and whether it is still catching
 * up from the log (then `cursor` is the last seq it was given).
 *
 * Upgrades are filtered before they are accepted: path /ws, bearer token
 * (header or access_token= argument), Origin (absent, same host, or one of
 * ws_origins), and the client limit. A message that is not a JSON object
 * (or msgpack map), comes in the wrong frame type or is over the cap gets
 * an error message and the connection is closed (1007/1003/1009); a well
 * formed request that cannot be served (unknown topic, bad arguments) only
 * gets an error message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "web/web_int.h"

/* Grace for a dropped client to read its error before the socket is cut. */
#define DROP_TIMEOUT_S 5
/* Topics one subscribe may name (there are 7). */
#define MAX_TOPICS 16

struct ws_client {
  web_t *w;
  struct lws *wsi;
  bool established, binary, closing, catching_up, check_gap;
  uint32_t topics;
  uint64_t cursor;
  unsigned batch; /* events queued by the current catch-up step */
  web_frame_t **q;
  unsigned qcap, qhead, qlen;
  web_buf_t rx;
  int close_status;
  const char *close_reason;
  ws_client_t *prev, *next;
};

static const char *const topic_names[] = {"tasks",   "findings", "actors",
                                          "metrics", "alerts",   "logs",
                                          "agent-output"};
#define N_TOPICS (sizeof topic_names / sizeof topic_names[0])

size_t web__ws_client_size(void) { return sizeof(ws_client_t); }

/* ---------------------------------------------------------------- queue */

static void queue_clear(ws_client_t *c)
{
  while (c->qlen) {
    web__frame_release(c->q[c->qhead]);
    c->qhead = (c->qhead + 1) % c->qcap;
    c->qlen--;
  }
}

/* A client with frames queued always has a writeable callback asked for
 * (on_writeable asks again while frames remain), so only the first frame
 * into an empty queue needs to ask. */
static void push(ws_client_t *c, web_frame_t *f)
{
  f->refs++;
  c->q[(c->qhead + c->qlen) % c->qcap] = f;
  if (c->qlen++ == 0)
    lws_callback_on_writable(c->wsi);
}

/* Queue @p f (a reference is taken) unless the client is closing; a full
 * queue makes it a slow consumer. */
static void enqueue(ws_client_t *c, web_frame_t *f);

static web_frame_t *frame_of(const json_t *msg, bool binary)
{
  web_frame_t *f = NULL;
  if (!binary) {
    char *s = json_dumps(msg, JSON_COMPACT);
    if (s)
      f = web__frame_new(s, strlen(s), false);
    free(s);
    return f;
  }
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  if (web__json_to_msgpack(msg, &sb) == 0)
    f = web__frame_new(sb.data, sb.size, true);
  msgpack_sbuffer_destroy(&sb);
  return f;
}

/* {"type": @p type} followed by the members of @p body (taken). */
static json_t *typed(const char *type, json_t *body)
{
  json_t *msg = json_pack("{s:s}", "type", type);
  if (msg && body && json_object_update(msg, body)) {
    json_decref(msg);
    msg = NULL;
  }
  json_decref(body);
  return msg;
}

static web_frame_t *error_frame(ws_client_t *c, const char *code,
                                const char *message)
{
  json_t *msg = json_pack("{s:s,s:{s:s,s:s}}", "type", "error", "error",
                          "code", code, "message", message);
  web_frame_t *f = msg ? frame_of(msg, c->binary) : NULL;
  json_decref(msg);
  return f;
}

static void send_json(ws_client_t *c, json_t *msg)
{
  web_frame_t *f = msg ? frame_of(msg, c->binary) : NULL;
  json_decref(msg);
  if (f) {
    enqueue(c, f);
    web__frame_release(f);
  }
}

static void send_error(ws_client_t *c, const char *code, const char *message)
{
  web_frame_t *f = error_frame(c, code, message);
  if (f) {
    enqueue(c, f);
    web__frame_release(f);
  }
}

/* Say why, then close with @p status once the message is out. */
static void close_with(ws_client_t *c, int status, const char *code,
                       const char *message)
{
  if (c->closing)
    return;
  web_frame_t *f = error_frame(c, code, message);
  c->closing = true;
  c->close_status = status;
  c->close_reason = code;
  if (f) {
    if (c->qlen < c->qcap)
      push(c, f);
    web__frame_release(f);
  }
  lws_callback_on_writable(c->wsi);
}

static void slow_consumer(ws_client_t *c)
{
  c->w->ws_slow++;
  queue_clear(c); /* the client resumes from the last seq it got */
  close_with(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "slow_consumer",
             "the client did not keep up; reconnect with resume_from set to "
             "the last seq received");
  lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, DROP_TIMEOUT_S);
}

static void enqueue(ws_client_t *c, web_frame_t *f)
{
  if (c->closing)
    return;
  if (c->qlen >= c->w->cfg.ws_queue_max) {
    slow_consumer(c);
    return;
  }
  push(c, f);
}

static void protocol_error(ws_client_t *c, int status, const char *code,
                           const char *message)
{
  c->w->ws_bad_frames++;
  close_with(c, status, code, message);
}

/* --------------------------------------------------------------- events */

static web_frame_t *event_frame(const proto_event_t *e, bool binary)
{
  proto_msg_t m = {.type = PROTO_EVENT};
  m.u.event = *e;
  json_t *msg = typed("event", proto_json_encode(&m));
  web_frame_t *f = msg ? frame_of(msg, binary) : NULL;
  json_decref(msg);
  if (f)
    f->event = true;
  return f;
}

typedef struct fan {
  web_t *w;
  unsigned n, max;
} fan_t;

static int fan_one(const proto_event_t *e, void *arg)
{
  fan_t *fan = arg;
  web_t *w = fan->w;
  uint32_t bit = web__topic_bit(e->topic);
  web_frame_t *frames[2] = {NULL, NULL}; /* JSON, msgpack: built once */
  for (ws_client_t *c = w->clients; bit && c; c = c->next) {
    if (c->closing || c->catching_up || !(c->topics & bit))
      continue;
    web_frame_t **f = &frames[c->binary];
    if (!*f)
      *f = event_frame(e, c->binary);
    if (*f)
      enqueue(c, *f);
  }
  web__frame_release(frames[0]);
  web__frame_release(frames[1]);
  w->hub_last = e->seq;
  return ++fan->n >= fan->max;
}

static void more_timer(lws_sorted_usec_list_t *sul)
{
  web__hub_poll(lws_container_of(sul, web_t, more_sul));
}

/* Fan out at most half a client queue per loop turn, then let the
 * clients write (all they have queued while their sockets take it) and go
 * on from a timer: a burst in the log then does not fill the queue of a
 * client that keeps up, while one that stops reading still overflows. */
void web__hub_poll(web_t *w)
{
  unsigned max = w->cfg.ws_queue_max / 2;
  fan_t fan = {.w = w,
               .max = max < 1 ? 1 : max > WEB__HUB_BATCH ? WEB__HUB_BATCH
                                                         : max};
  store_event_foreach(w->store, w->hub_last, fan_one, &fan);
  if (fan.n >= fan.max)
    lws_sul_schedule(w->ctx, 0, &w->more_sul, more_timer, 1);
}

static int catch_one(const proto_event_t *e, void *arg)
{
  ws_client_t *c = arg;
  if (e->seq > c->w->hub_last)
    return 1; /* the live fan-out delivers the rest */
  if (c->check_gap) {
    c->check_gap = false;
    if (e->seq > c->cursor + 1) {
      char msg[160];
      snprintf(msg, sizeof(msg),
               "events %llu to %llu are no longer kept; resuming at %llu",
               (unsigned long long)c->cursor + 1,
               (unsigned long long)e->seq - 1, (unsigned long long)e->seq);
      send_error(c, "resume_gap", msg);
    }
  }
  c->cursor = e->seq;
  if (c->topics & web__topic_bit(e->topic)) {
    web_frame_t *f = event_frame(e, c->binary);
    if (f) {
      enqueue(c, f);
      web__frame_release(f);
    }
    c->batch++;
  }
  unsigned cap = c->w->cfg.ws_queue_max / 2;
  return c->batch >= (cap < WEB__CATCHUP_BATCH ? (cap ? cap : 1)
                                                : WEB__CATCHUP_BATCH);
}

/* Queue the next few missed events from the log; go live at hub_last. */
static void catch_up(ws_client_t *c)
{
  uint64_t before = c->cursor;
  c->batch = 0;
  store_event_foreach(c->w->store, c->cursor, catch_one, c);
  if (c->cursor >= c->w->hub_last || c->cursor == before)
    c->catching_up = false;
}

/* ------------------------------------------------------------- requests */

static json_t *topics_json(uint32_t bits)
{
  json_t *a = json_array();
  for (unsigned i = 0; a && i < N_TOPICS; i++)
    if (bits & (1u << i))
      json_array_append_new(a, json_string(topic_names[i]));
  return a;
}

/* The topic bits of @p msg's "topics"; 0 with an error sent when bad. */
static uint32_t parse_topics(ws_client_t *c, const json_t *msg)
{
  const json_t *topics = json_object_get(msg, "topics");
  size_t n = json_array_size(topics);
  if (!json_is_array(topics) || n == 0 || n > MAX_TOPICS) {
    send_error(c, "bad_request", "\"topics\" must be a non-empty array of "
                                 "topic names");
    return 0;
  }
  uint32_t bits = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t b = web__topic_bit(json_string_value(json_array_get(topics, i)));
    if (!b) {
      send_error(c, "bad_request",
                 "unknown topic (known: tasks, findings, actors, metrics, "
                 "agent-output, alerts, logs)");
      return 0;
    }
    bits |= b;
  }
  return bits;
}

static void send_subscribed(ws_client_t *c)
{
  json_t *body = json_pack("{s:o,s:I}", "topics", topics_json(c->topics),
                           "seq", (json_int_t)c->w->hub_last);
  send_json(c, typed("subscribed", body));
}

static void on_subscribe(ws_client_t *c, const json_t *msg)
{
  uint32_t bits = parse_topics(c, msg);
  if (!bits)
    return;
  const json_t *resume = json_object_get(msg, "resume_from");
  if (resume && (!json_is_integer(resume) || json_integer_value(resume) < 0)) {
    send_error(c, "bad_request", "\"resume_from\" must be a seq (>= 0)");
    return;
  }
  web__hub_poll(c->w); /* the seq we report is the newest there is */
  c->topics |= bits;
  send_subscribed(c);
  uint64_t from = resume ? (uint64_t)json_integer_value(resume) : 0;
  if (resume && from < c->w->hub_last &&
      (!c->catching_up || from < c->cursor)) {
    c->catching_up = true;
    c->check_gap = true;
    c->cursor = from;
    lws_callback_on_writable(c->wsi);
  }
}

static void on_unsubscribe(ws_client_t *c, const json_t *msg)
{
  uint32_t bits = parse_topics(c, msg);
  if (!bits)
    return;
  c->topics &= ~bits;
  send_subscribed(c);
}

static void send_reply(ws_client_t *c, const char *id, bool ok,
                       json_t *data, const web_err_t *e)
{
  proto_msg_t m = {.type = PROTO_REPLY};
  m.u.reply = (proto_reply_t){
      .id = (char *)id, .ok = ok, .data = data,
      .error_code = ok ? NULL : (char *)e->code,
      .error_message = ok ? NULL : (char *)e->message};
  send_json(c, typed("reply", proto_json_encode(&m)));
}

void web__ws_action_done(ws_client_t *c, const char *cmd_id, bool ok,
                         json_t *data, const web_err_t *e)
{
  send_reply(c, cmd_id, ok, data, e);
}

static void on_command(ws_client_t *c, const json_t *msg)
{
  proto_msg_t m;
  char err[160];
  web_err_t e;
  if (proto_json_decode(PROTO_COMMAND, msg, &m, err, sizeof(err)) != 0) {
    const json_t *id = json_object_get(msg, "id");
    web__err(&e, 400, "bad_request", "%s", err);
    /* Echo the id only when it is one the encoder accepts. */
    send_reply(c, json_is_string(id) && json_string_length(id) < 256
                      ? json_string_value(id) : NULL,
               false, NULL, &e);
    return;
  }
  const proto_command_t *cmd = &m.u.command;
  int a = web__action_from_name(cmd->action);
  json_t *result = NULL;
  int rc;
  if (a < 0)
    rc = web__err(&e, 400, "bad_request", "unknown action (run, cancel, "
                  "skip, requeue, pin, scan)");
  else
    rc = web__action_start(c->w, (web_action_t)a,
                           json_string_value(json_object_get(cmd->args,
                                                             "task")),
                           cmd->args, WEB_OWNER_WS, c, cmd->id, &result, &e);
  if (rc <= 0)
    send_reply(c, cmd->id, rc == 0, result, &e);
  json_decref(result);
  proto_msg_fini(&m);
}

static json_t *decode_message(ws_client_t *c)
{
  if (c->binary)
    return web__msgpack_to_json(c->rx.p, c->rx.len, NULL, 0);
  json_error_t je;
  return json_loadb(c->rx.p, c->rx.len, JSON_REJECT_DUPLICATES, &je);
}

static void on_message(ws_client_t *c)
{
  json_t *msg = decode_message(c);
  const char *type = json_string_value(json_object_get(msg, "type"));
  if (!json_is_object(msg) || !type)
    protocol_error(c, LWS_CLOSE_STATUS_INVALID_PAYLOAD, "bad_frame",
                   c->binary ? "expected a msgpack map with a \"type\""
                             : "expected a JSON object with a \"type\"");
  else if (strcmp(type, "subscribe") == 0)
    on_subscribe(c, msg);
  else if (strcmp(type, "unsubscribe") == 0)
    on_unsubscribe(c, msg);
  else if (strcmp(type, "command") == 0)
    on_command(c, msg);
  else
    send_error(c, "bad_request",
               "unknown type (subscribe, unsubscribe, command)");
  json_decref(msg);
}

static void on_receive(ws_client_t *c, struct lws *wsi, const void *in,
                       size_t len)
{
  if (c->closing)
    return;
  if ((lws_frame_is_binary(wsi) != 0) != c->binary) {
    protocol_error(c, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "bad_frame",
                   c->binary ? "ccm.v1.msgpack takes binary frames"
                             : "ccm.v1.json takes text frames");
    return;
  }
  if (c->rx.len + len > c->w->cfg.ws_max_message) {
    web__buf_free(&c->rx);
    protocol_error(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "too_large",
                   "message over the size limit");
    return;
  }
  if (web__buf_add(&c->rx, in, len)) {
    close_with(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "internal",
               "out of memory");
    return;
  }
  if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
    return;
  on_message(c);
  c->rx.len = 0;
}

/* ------------------------------------------------------ connection life */

static bool origin_ok(web_t *w, struct lws *wsi)
{
  char origin[256], host[256];
  if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) <= 0)
    return true; /* not a browser: the token (if any) is the guard */
  for (size_t i = 0; i < w->cfg.n_ws_origins; i++)
    if (strcmp(origin, w->ws_origins[i]) == 0)
      return true;
  const char *p = strstr(origin, "://");
  return p && lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) > 0 &&
         strcasecmp(p + 3, host) == 0;
}

static int filter(web_t *w, struct lws *wsi)
{
  char uri[WEB__PATH_MAX];
  bool ok = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) > 0 &&
            strcmp(uri, "/ws") == 0 && web__auth_ok(w, wsi, true) &&
            origin_ok(w, wsi) && w->n_clients < w->cfg.ws_max_clients;
  if (!ok)
    w->ws_rejected++;
  return ok ? 0 : -1;
}

static int on_established(web_t *w, ws_client_t *c, struct lws *wsi)
{
  memset(c, 0, sizeof(*c));
  c->w = w;
  c->wsi = wsi;
  c->binary = lws_get_protocol(wsi)->id == 1;
  c->qcap = w->cfg.ws_queue_max + 1; /* + the spare for the last error */
  c->q = calloc(c->qcap, sizeof(*c->q));
  if (!c->q)
    return -1;
  c->established = true;
  c->next = w->clients;
  if (w->clients)
    w->clients->prev = c;
  w->clients = c;
  w->n_clients++;
  w->ws_accepted++;
  return 0;
}

static void on_closed(web_t *w, ws_client_t *c)
{
  if (!c->established)
    return;
  if (c->prev)
    c->prev->next = c->next;
  else
    w->clients = c->next;
  if (c->next)
    c->next->prev = c->prev;
  w->n_clients--;
  queue_clear(c);
  free(c->q);
  web__buf_free(&c->rx);
  web__pending_drop_owner(w, c);
  c->established = false;
}

static web_frame_t *pop(ws_client_t *c)
{
  web_frame_t *f = c->q[c->qhead];
  c->qhead = (c->qhead + 1) % c->qcap;
  c->qlen--;
  return f;
}

static void count_sent(web_t *w, const web_frame_t *f)
{
  w->ws_frames_sent++;
  w->ws_events_sent += f->event;
}

/* Send the next queued frames in one raw write: 0, or -1 when the
 * connection failed. The frames are complete RFC 6455 frames already
 * (web__frame_wire), so lws passes LWS_WRITE_RAW bytes through as they
 * are, and buffers a partial write itself. A frame alone (or one too big
 * to share the scratch buffer) goes straight from its shared buffer;
 * several are copied side by side into the service thread's scratch
 * buffer, up to WEB__WS_BATCH bytes: one send() for the lot instead of one
 * per frame, which is what lets one thread feed a thousand clients. */
static int write_batch(web_t *w, ws_client_t *c)
{
  web_frame_t *f = c->q[c->qhead];
  size_t len = web__frame_wire_len(f);
  if (c->qlen == 1 || len + web__frame_wire_len(c->q[(c->qhead + 1) %
                                                     c->qcap]) > WEB__WS_BATCH) {
    pop(c);
    int n = lws_write(c->wsi, (unsigned char *)web__frame_wire(f), len,
                      LWS_WRITE_RAW);
    w->ws_writes++;
    if (n >= 0)
      count_sent(w, f);
    web__frame_release(f);
    return n < 0 ? -1 : 0;
  }
  unsigned char *out = w->scratch + LWS_PRE;
  len = 0;
  while (c->qlen &&
         len + web__frame_wire_len(c->q[c->qhead]) <= WEB__WS_BATCH) {
    f = pop(c);
    memcpy(out + len, web__frame_wire(f), web__frame_wire_len(f));
    len += web__frame_wire_len(f);
    count_sent(w, f);
    web__frame_release(f);
  }
  w->ws_writes++;
  return lws_write(c->wsi, out, len, LWS_WRITE_RAW) < 0 ? -1 : 0;
}

/* Raw writes while the socket takes them (up to WEB__WRITE_BURST):
 * lws_send_pipe_choked() between writes is lws's own condition for a
 * further write in the same callback (true while a partial write is
 * buffered). */
static int on_writeable(web_t *w, ws_client_t *c)
{
  if (c->qlen == 0 && c->catching_up && !c->closing)
    catch_up(c);
  if (c->qlen) {
    for (unsigned k = 0; c->qlen && k < WEB__WRITE_BURST; k++) {
      if (k && lws_send_pipe_choked(c->wsi))
        break;
      if (write_batch(w, c))
        return -1;
    }
    if (c->qlen || c->catching_up || c->closing)
      lws_callback_on_writable(c->wsi);
    return 0;
  }
  if (c->closing) {
    lws_close_reason(c->wsi, (enum lws_close_status)c->close_status,
                     (unsigned char *)c->close_reason,
                     strlen(c->close_reason));
    return -1;
  }
  return 0;
}

int web__ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                     void *user, void *in, size_t len)
{
  web_t *w = web__from_wsi(wsi);
  ws_client_t *c = user;
  switch (reason) {
  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    return filter(w, wsi);
  case LWS_CALLBACK_ESTABLISHED:
    return on_established(w, c, wsi);
  case LWS_CALLBACK_RECEIVE:
    if (c && c->established)
      on_receive(c, wsi, in, len);
    return 0;
  case LWS_CALLBACK_SERVER_WRITEABLE:
    return c && c->established ? on_writeable(w, c) : 0;
  case LWS_CALLBACK_CLOSED:
    if (c)
      on_closed(w, c);
    return 0;
  default:
    return 0;
  }
}
