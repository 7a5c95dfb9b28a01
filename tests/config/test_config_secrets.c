/*
 * test_config_secrets.c: reading the environment variables a config
 * names (cfg_secrets_resolve, config/secrets.c).
 *
 * Contract checked: the values of auth_token_env, github.token_env,
 * github.webhook_secret_env and each webhook's secret_env are copied
 * (later changes to the environment do not reach them); unset or empty
 * variables give NULL; missing ones are errors only where ccm cannot run
 * safely (the control plane on a non-loopback address without its token;
 * a webhook whose named secret is unset); error messages name variables
 * and never contain a value. Each test runs in its own process, so
 * setenv() here does not leak into other tests.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tests/config/cfg_test.h"
#include "tests/scan/leaks.h"

TestSuite(config_secrets, .timeout = 30, .fini = scan_test_check_leaks);

static void load_text(const char *text, cfg_t *c)
{
  cfg_errors_t e;
  int rc = cfg_load_buffer("env.yaml", text, strlen(text), c, &e);
  cfg_errors_print(&e, stderr);
  cr_assert_eq(rc, 0);
  cfg_errors_fini(&e);
}

static void clear_env(void)
{
  unsetenv("CCM_TOKEN");
  unsetenv("GITHUB_TOKEN");
  unsetenv("CCM_WEBHOOK_SECRET");
  unsetenv("HOOK_KEY");
}

static bool messages_contain(const cfg_errors_t *e, const char *s)
{
  for (size_t i = 0; i < e->n; i++)
    if (strstr(e->v[i].message, s))
      return true;
  return false;
}

Test(config_secrets, values_are_copied_from_the_named_variables)
{
  clear_env();
  setenv("CCM_TOKEN", "control-value-1", 1);
  setenv("GITHUB_TOKEN", "github-value-2", 1);
  setenv("CCM_WEBHOOK_SECRET", "hook-value-3", 1);
  cfg_t c;
  cfg_defaults(&c);
  cfg_secrets_t s;
  cfg_errors_t e;
  cr_assert_eq(cfg_secrets_resolve(&c, &s, &e), 0);
  cr_assert_eq(e.n, 0);
  setenv("CCM_TOKEN", "changed", 1);
  cr_assert_str_eq(s.auth_token, "control-value-1");
  cr_assert_str_eq(s.github_token, "github-value-2");
  cr_assert_str_eq(s.webhook_secret, "hook-value-3");
  cr_assert_eq(s.nwebhook_keys, 0);
  cfg_secrets_fini(&s);
  cfg_secrets_t zero = {0};
  cr_assert_eq(memcmp(&s, &zero, sizeof s), 0);
  cfg_errors_fini(&e);
  cfg_fini(&c);
}

Test(config_secrets, unset_and_empty_variables_are_null_on_loopback)
{
  clear_env();
  setenv("GITHUB_TOKEN", "", 1);
  cfg_t c;
  load_text("listen: \"[::1]:8080\"\ngithub: {webhook_secret_env: ~}\n", &c);
  cfg_secrets_t s;
  cfg_errors_t e;
  cr_assert_eq(cfg_secrets_resolve(&c, &s, &e), 0);
  cr_assert_null(s.auth_token);
  cr_assert_null(s.github_token, "empty counts as unset");
  cr_assert_null(s.webhook_secret);
  cfg_secrets_fini(&s);
  cfg_errors_fini(&e);
  cfg_fini(&c);
}

Test(config_secrets, an_exposed_control_plane_needs_its_token)
{
  clear_env();
  setenv("GITHUB_TOKEN", "github-value-must-not-show", 1);
  cfg_t c;
  load_text("listen: 0.0.0.0:8080\n", &c);
  cfg_secrets_t s;
  cfg_errors_t e;
  cr_assert_eq(cfg_secrets_resolve(&c, &s, &e), CFG_ESECRET);
  cr_assert_eq(e.n, 1);
  cr_assert_eq(e.v[0].line, 0);
  cr_assert_str_eq(e.v[0].message,
                   "listen 0.0.0.0:8080 is not a loopback address, and "
                   "CCM_TOKEN (auth_token_env) is not set: set it, or "
                   "listen on 127.0.0.1");
  cr_assert_not(messages_contain(&e, "github-value"));
  cfg_secrets_fini(&s);
  cfg_errors_fini(&e);

  setenv("CCM_TOKEN", "control-value", 1);
  cr_assert_eq(cfg_secrets_resolve(&c, &s, &e), 0);
  cr_assert_str_eq(s.auth_token, "control-value");
  cfg_secrets_fini(&s);
  cfg_errors_fini(&e);
  cfg_fini(&c);
}

Test(config_secrets, an_exposed_control_plane_without_a_token_name)
{
  clear_env();
  cfg_t c;
  load_text("listen: 10.1.2.3:80\nauth_token_env: ~\n", &c);
  cfg_secrets_t s;
  cfg_errors_t e;
  cr_assert_eq(cfg_secrets_resolve(&c, &s, &e), CFG_ESECRET);
  cr_assert(messages_contain(&e, "no auth_token_env is named"));
  cfg_secrets_fini(&s);
  cfg_errors_fini(&e);
  cfg_fini(&c);
}

Test(config_secrets, webhook_secrets_by_name)
{
  clear_env();
  cfg_t c;
  load_text("webhooks:\n"
            "  - {url: https://a.example.com/, secret_env: HOOK_KEY}\n"
            "  - {url: https://b.example.com/}\n",
            &c);
  cfg_secrets_t s;
  cfg_errors_t e;
  cr_assert_eq(cfg_secrets_resolve(&c, &s, &e), CFG_ESECRET);
  cr_assert_eq(e.n, 1);
  cr_assert_str_eq(e.v[0].message,
                   "webhooks[0].secret_env: HOOK_KEY is not set (the "
                   "webhook's payloads would go out unsigned)");
  cfg_secrets_fini(&s);
  cfg_errors_fini(&e);

  setenv("HOOK_KEY", "hmac-key-value", 1);
  cr_assert_eq(cfg_secrets_resolve(&c, &s, &e), 0);
  cr_assert_eq(s.nwebhook_keys, 2);
  cr_assert_str_eq(s.webhook_keys[0], "hmac-key-value");
  cr_assert_null(s.webhook_keys[1], "no secret_env: unsigned by choice");
  cfg_secrets_fini(&s);
  cfg_errors_fini(&e);
  cfg_fini(&c);
}
