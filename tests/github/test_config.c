/*
 * test_config.c: the configuration keys of the GitHub sync and
 * proposals (config/schema.c; SPEC §3 "Configuration", issue #5).
 *
 * Contract: defaults (approve_labels [ccm:approved], proposal_label
 * ccm:proposal, budget 100, sync_interval 10 min, propose_issues off,
 * close_resolved_issues on); each key read as written; "off" stops the
 * periodic sync; an empty approve_labels, a budget of 0 and a wrong type
 * are errors with their line.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "config/config.h"

TestSuite(gh_config, .timeout = 30);

static int load(const char *text, cfg_t *c, cfg_errors_t *e)
{
  memset(e, 0, sizeof(*e));
  return cfg_load_buffer("test.yaml", text, strlen(text), c, e);
}

Test(gh_config, defaults)
{
  cfg_t c;
  cfg_errors_t e;
  cr_assert_eq(load("repos:\n  - github: acme/demo\n", &c, &e), 0);
  cr_assert_eq(c.github.approve_labels.n, 1);
  cr_assert_str_eq(c.github.approve_labels.v[0], "ccm:approved");
  cr_assert_str_eq(c.github.proposal_label, "ccm:proposal");
  cr_assert_eq(c.github.budget, 100);
  cr_assert_eq(c.github.sync_interval_ms, 600000);
  cr_assert_null(c.github.login);
  cr_assert_eq(c.github.stale_exempt_labels.n, 0);
  cr_assert(!c.repos[0].propose_issues);
  cr_assert(c.repos[0].close_resolved_issues);
  cr_assert_eq(c.repos[0].propose_kinds.n, 0);
  cfg_fini(&c);
  cfg_errors_fini(&e);
}

Test(gh_config, keys_are_read_as_written)
{
  const char *y = "repos:\n"
                  "  - github: acme/demo\n"
                  "    propose_issues: true\n"
                  "    propose_kinds: [todo, secret]\n"
                  "    close_resolved_issues: false\n"
                  "github:\n"
                  "  approve_labels: [lgtm, ship-it]\n"
                  "  proposal_label: bot-proposal\n"
                  "  budget: 250\n"
                  "  sync_interval: off\n"
                  "  login: ccm-bot\n"
                  "  stale_exempt_labels: [pinned, security]\n";
  cfg_t c;
  cfg_errors_t e;
  cr_assert_eq(load(y, &c, &e), 0, "%s", e.n ? e.v[0].message : "");
  cr_assert_eq(c.github.approve_labels.n, 2);
  cr_assert_str_eq(c.github.approve_labels.v[1], "ship-it");
  cr_assert_str_eq(c.github.proposal_label, "bot-proposal");
  cr_assert_eq(c.github.budget, 250);
  cr_assert_eq(c.github.sync_interval_ms, 0);
  cr_assert_str_eq(c.github.login, "ccm-bot");
  cr_assert_eq(c.github.stale_exempt_labels.n, 2);
  cr_assert_str_eq(c.github.stale_exempt_labels.v[1], "security");
  cr_assert(c.repos[0].propose_issues);
  cr_assert(!c.repos[0].close_resolved_issues);
  cr_assert_eq(c.repos[0].propose_kinds.n, 2);
  cr_assert_str_eq(c.repos[0].propose_kinds.v[1], "secret");
  cfg_fini(&c);
  cfg_errors_fini(&e);
}

Test(gh_config, bad_values_are_errors_with_their_line)
{
  const char *bad[] = {
      "repos:\n  - github: a/b\ngithub:\n  approve_labels: []\n",
      "repos:\n  - github: a/b\ngithub:\n  budget: 0\n",
      "repos:\n  - github: a/b\ngithub:\n  stale_exempt_labels: [x, x]\n",
      "repos:\n  - github: a/b\ngithub:\n  budget: lots\n",
      "repos:\n  - github: a/b\n    propose_issues: maybe\n",
  };
  const unsigned line[] = {4, 4, 4, 4, 3};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    cfg_t c;
    cfg_errors_t e;
    cr_assert_eq(load(bad[i], &c, &e), CFG_EINVALID, "case %zu", i);
    cr_assert_geq(e.n, 1);
    cr_assert_eq(e.v[0].line, line[i], "case %zu: %s", i, e.v[0].message);
    cfg_fini(&c);
    cfg_errors_fini(&e);
  }
}
