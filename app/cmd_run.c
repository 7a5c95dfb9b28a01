/*
 * cmd_run.c: `ccm run TASK`: ask the running daemon to run a task now.
 *
 * Design note
 * -----------
 * Running a task needs the executor, which lives in `ccm serve`, so this
 * command is a client of the daemon's REST API: one
 * POST /api/v1/tasks/{id}/actions {"action":"run"} (the panel's "run"
 * button, the same state checks: a new or triaged task is approved to
 * ready and handed over, a ready one is handed over, anything else is a
 * conflict). The daemon is found at --listen ADDR:PORT, else at the URL
 * the daemon of the data dir published (<data>/serve.url, app_url.c;
 * --data DIR, else the configuration's data_dir), else at the
 * configuration's `listen` (--config FILE, else ./ccm.yaml when present,
 * else the embedded default 127.0.0.1:8080); a wildcard address is
 * reached on loopback. The
 * bearer token is read from the variable the configuration names
 * (auth_token_env, CCM_TOKEN by default) and never printed. Bounded: 5 s
 * to connect, 30 s in all.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "config/config.h"

#define RUN_CONNECT_TIMEOUT_MS 5000L
#define RUN_TIMEOUT_MS 30000L
#define RUN_BODY_MAX (1u << 20)

typedef struct run_opts {
  const char *id;
  const char *config;
  const char *listen;
  const char *data;
  bool json;
} run_opts_t;

static const char *const run_help =
    "usage: ccm run TASK [--listen ADDR:PORT] [--data DIR] [--config FILE]\n"
    "               [--json]\n"
    "\n"
    "Asks the running daemon (ccm serve) to run task TASK now, as the\n"
    "panel's run button does: a new or triaged task is approved and handed\n"
    "to the executor, a ready one is handed over; a task in another state\n"
    "is refused. Prints the task's state (--json: the daemon's answer).\n"
    "  --listen ADDR:PORT  the daemon's address (default: where the daemon\n"
    "                      of the data dir serves, from DIR/serve.url, else\n"
    "                      the config's listen, 127.0.0.1:8080)\n"
    "  --data DIR          that data dir (default: the config's, ./.ccm)\n"
    "  --config FILE       the daemon's configuration (default ./ccm.yaml\n"
    "                      when present): its listen and auth_token_env\n"
    "The bearer token is read from the variable auth_token_env names\n"
    "(CCM_TOKEN by default) when the daemon wants one.\n"
    "exit codes: 0 handed over, 1 refused or no daemon, 2 usage\n";

static int parse_run(int argc, char **argv, run_opts_t *o)
{
  memset(o, 0, sizeof *o);
  for (int i = 2; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(run_help, stdout);
      return -1;
    }
  const app_opt_t opts[] = {{"--json", NULL, &o->json},
                            {"--config", &o->config, NULL},
                            {"--listen", &o->listen, NULL},
                            {"--data", &o->data, NULL},
                            {NULL, NULL, NULL}};
  int rc = app_parse_opts(argc, argv, 2, opts, &o->id);
  if (!rc && !o->id)
    return app_usage_error("run: which task?", "TASK");
  return rc;
}

/* The daemon's base URL for listen address @p listen ("HOST:PORT" or
 * "[V6]:PORT"): a wildcard host becomes loopback. 0, or -1 when the
 * address has no usable port. */
static int base_url(const char *listen, char *url, size_t cap)
{
  const char *colon = strrchr(listen, ':');
  if (!colon || !colon[1] || !strcmp(colon + 1, "0"))
    return -1;
  size_t hlen = (size_t)(colon - listen);
  const char *host = listen;
  if (hlen == 7 && !strncmp(listen, "0.0.0.0", 7))
    host = "127.0.0.1", hlen = 9;
  else if (hlen == 4 && !strncmp(listen, "[::]", 4))
    host = "[::1]", hlen = 5;
  int n = snprintf(url, cap, "http://%.*s:%s", (int)hlen, host, colon + 1);
  return n > 0 && (size_t)n < cap ? 0 : -1;
}

typedef struct body {
  char *p;
  size_t len;
} body_t;

static size_t body_add(char *data, size_t size, size_t n, void *ud)
{
  body_t *b = ud;
  size_t add = size * n;
  if (b->len + add > RUN_BODY_MAX)
    return 0; /* curl fails the transfer: not a reply of ours */
  char *p = realloc(b->p, b->len + add + 1);
  if (!p)
    return 0;
  memcpy(p + b->len, data, add);
  b->p = p;
  b->len += add;
  b->p[b->len] = '\0';
  return add;
}

/* POST @p json to @p url with the bearer @p token (NULL: none). The HTTP
 * status, or -1 when no answer came (@p err says why). */
static long post_json(const char *url, const char *json, const char *token,
                      body_t *out, char *err, size_t errlen)
{
  CURL *c = curl_easy_init();
  if (!c) {
    snprintf(err, errlen, "cannot start an HTTP client");
    return -1;
  }
  char auth[1100] = "";
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
  if (token && *token) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    h = curl_slist_append(h, auth);
  }
  char cerr[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_add);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, RUN_CONNECT_TIMEOUT_MS);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, RUN_TIMEOUT_MS);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
  long status = -1;
  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  else
    snprintf(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
  memset(auth, 0, sizeof auth); /* the token leaves no copy behind */
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return status;
}

/* What the daemon answered, for a person: the task's state, or its
 * error's message. */
static int report(const run_opts_t *o, long status, const body_t *b)
{
  json_t *j = b->p ? json_loads(b->p, 0, NULL) : NULL;
  int rc = status >= 200 && status < 300 ? APP_EXIT_OK : APP_EXIT_FAIL;
  if (o->json && j) {
    char *text = json_dumps(j, JSON_COMPACT);
    if (text)
      puts(text);
    free(text);
  } else if (rc == APP_EXIT_OK) {
    json_t *task = json_object_get(j, "task") ? json_object_get(j, "task") : j;
    const char *state = json_string_value(json_object_get(task, "state"));
    printf("%s: %s%s\n", o->id, state ? state : "run requested",
           status == 202 && json_object_get(j, "message")
               ? " (the store has not confirmed it yet)"
               : "; the executor has it");
  }
  if (rc != APP_EXIT_OK) {
    const char *msg = json_string_value(
        json_object_get(json_object_get(j, "error"), "message"));
    fprintf(stderr, "ccm: run %s: %s (HTTP %ld)\n", o->id,
            msg ? msg : "the daemon refused", status);
  }
  json_decref(j);
  return rc;
}

int app_cmd_run(int argc, char **argv)
{
  run_opts_t o;
  int rc = parse_run(argc, argv, &o);
  if (rc)
    return rc < 0 ? APP_EXIT_OK : rc; /* -1: the help was asked for */
  cfg_t cfg;
  if (app_config_read(o.config, &cfg) != 0)
    return APP_EXIT_FAIL;
  /* --listen, else where the daemon of this data dir said it serves,
   * else the configuration's listen */
  char published[300];
  const char *data = o.data ? o.data : cfg.data_dir;
  const char *listen = o.listen ? o.listen : cfg.listen.text;
  if (!o.listen && data &&
      app_url_read(data, published, sizeof published) == 0)
    listen = published;
  char base[300], url[1024];
  if (base_url(listen, base, sizeof base) != 0) {
    fprintf(stderr, "ccm: run: no daemon address in '%s' (give --listen "
                    "ADDR:PORT)\n", listen);
    cfg_fini(&cfg);
    return APP_EXIT_USAGE;
  }
  char *id = curl_easy_escape(NULL, o.id, 0);
  snprintf(url, sizeof url, "%s/api/v1/tasks/%s/actions", base, id ? id : "");
  curl_free(id);
  const char *token = cfg.auth_token_env ? getenv(cfg.auth_token_env) : NULL;
  body_t b = {0};
  char err[CURL_ERROR_SIZE + 64] = "";
  long status = post_json(url, "{\"action\":\"run\"}", token, &b, err,
                          sizeof err);
  if (status < 0) {
    fprintf(stderr, "ccm: run: no daemon answered at %s: %s (is `ccm serve` "
                    "running? --listen ADDR:PORT names another address)\n",
            base, err);
    rc = APP_EXIT_FAIL;
  } else {
    rc = report(&o, status, &b);
  }
  free(b.p);
  cfg_fini(&cfg);
  return rc;
}
