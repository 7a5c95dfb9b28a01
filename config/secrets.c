/*
 * secrets.c: reading the environment variables a configuration names.
 *
 * The only place in config/ that reads values of secrets. Values are
 * copied (the environment may change later), never printed: every error
 * names the variable and the key that names it, nothing else. Freeing
 * wipes the copies first, so a secret does not linger in freed heap
 * memory that a later allocation or a core dump could show.
 */
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

/* A copy of the variable's value, or NULL when @p name is unset/empty. */
static char *env_copy(const char *name)
{
  if (!name || !*name)
    return NULL;
  const char *v = getenv(name);
  return v && *v ? cfg__xstrdup(v) : NULL;
}

static void wipe_free(char *s)
{
  if (!s)
    return;
  explicit_bzero(s, strlen(s));
  free(s);
}

void cfg_secrets_fini(cfg_secrets_t *s)
{
  if (!s)
    return;
  wipe_free(s->auth_token);
  wipe_free(s->github_token);
  wipe_free(s->webhook_secret);
  for (size_t i = 0; i < s->nwebhook_keys; i++)
    wipe_free(s->webhook_keys[i]);
  free(s->webhook_keys);
  memset(s, 0, sizeof(*s));
}

/* SPEC §5: the control plane listens on loopback by default and needs
 * the auth token when exposed. */
static void check_exposed(const cfg_t *c, const cfg_secrets_t *s,
                          cfg_errors_t *errs)
{
  if (s->auth_token || cfg_host_is_loopback(c->listen.host))
    return;
  if (c->auth_token_env && *c->auth_token_env)
    cfg__error_add(errs, 0, 0,
                   "listen %s is not a loopback address, and %s "
                   "(auth_token_env) is not set: set it, or listen on "
                   "127.0.0.1",
                   c->listen.text, c->auth_token_env);
  else
    cfg__error_add(errs, 0, 0,
                   "listen %s is not a loopback address, and no "
                   "auth_token_env is named: name one, or listen on "
                   "127.0.0.1",
                   c->listen.text);
}

int cfg_secrets_resolve(const cfg_t *c, cfg_secrets_t *out,
                        cfg_errors_t *errs)
{
  memset(out, 0, sizeof(*out));
  cfg__errors_init(errs, c->source);
  out->auth_token = env_copy(c->auth_token_env);
  out->github_token = env_copy(c->github.token_env);
  out->webhook_secret = env_copy(c->github.webhook_secret_env);
  out->webhook_keys = cfg__xcalloc(c->nwebhooks, sizeof(char *));
  out->nwebhook_keys = c->nwebhooks;
  for (size_t i = 0; i < c->nwebhooks; i++) {
    const char *name = c->webhooks[i].secret_env;
    out->webhook_keys[i] = env_copy(name);
    if (name && !out->webhook_keys[i])
      cfg__error_add(errs, 0, 0,
                     "webhooks[%zu].secret_env: %s is not set (the "
                     "webhook's payloads would go out unsigned)",
                     i, name);
  }
  check_exposed(c, out, errs);
  return errs->n + errs->dropped ? CFG_ESECRET : 0;
}
