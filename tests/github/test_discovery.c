/*
 * test_discovery.c: issues as findings with activity-typed staleness
 * (actors/github/discovery.c).
 *
 * Contract: only human activity resets the clock (bots, "[bot]" logins,
 * ccm's own account and listed accounts do not; passive events do not);
 * the latest human activity is reported with its kind, author and date;
 * an issue nobody human touched is idle since it was opened; an exempt
 * label makes it never stale; the finding has kind "issue", the title,
 * the reason in details, a fingerprint that survives a title change and
 * differs per issue, encodes as a protocol message, and pull requests are
 * refused.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "actors/github/discovery.h"
#include "tests/github/gh_test.h"

TestSuite(discovery, .timeout = 60);

#define DAY 86400
#define NOW 1720000000 /* 2024-07-03 */

static gh_issue_t issue_by(const char *author, bool bot, int64_t created)
{
  gh_issue_t i;
  memset(&i, 0, sizeof(i));
  i.number = 12;
  i.title = "Flaky test";
  i.author = (char *)author;
  i.author_bot = bot;
  i.created_at = created;
  i.updated_at = NOW - 60; /* a bot touched it a minute ago: ignored */
  return i;
}

static gh_activity_t act(const char *kind, const char *who, bool bot,
                         int64_t at)
{
  return (gh_activity_t){.kind = (char *)kind, .actor = (char *)who,
                         .actor_bot = bot, .at = at};
}

static const ghd_policy_t policy = {.stale_days = 30,
                                    .self_login = "ccm-bot"};

Test(discovery, bots_and_ccm_do_not_reset_the_clock)
{
  gh_issue_t i = issue_by("alice", false, NOW - 90 * DAY);
  gh_activity_t a[] = {
      act("commented", "bob", false, NOW - 45 * DAY),
      act("commented", "dependabot[bot]", true, NOW - 1 * DAY),
      act("labeled", "renovate[bot]", false, NOW - 2 * DAY), /* login says */
      act("commented", "ccm-bot", false, NOW - 3 * DAY),
      act("subscribed", "carol", false, NOW - 4 * DAY), /* passive */
  };
  ghd_staleness_t s;
  ghd_staleness_eval(&i, a, 5, &policy, NOW, &s);
  cr_assert(s.stale);
  cr_assert_str_eq(s.last_human, "bob");
  cr_assert_str_eq(s.last_kind, "commented");
  cr_assert_eq(s.last_human_at, NOW - 45 * DAY);
  cr_assert_eq(s.idle_days, 45);
  cr_assert(strstr(s.why, "stale: last human activity commented by bob on"),
            "%s", s.why);
  cr_assert(strstr(s.why, "45 days ago"), "%s", s.why);
  tst_check_leaks();
}

Test(discovery, a_recent_human_keeps_it_active)
{
  gh_issue_t i = issue_by("alice", false, NOW - 90 * DAY);
  gh_activity_t a[] = {act("labeled", "dave", false, NOW - 5 * DAY),
                       act("commented", "bob", false, NOW - 45 * DAY)};
  ghd_staleness_t s;
  ghd_staleness_eval(&i, a, 2, &policy, NOW, &s);
  cr_assert(!s.stale);
  cr_assert_str_eq(s.last_human, "dave");
  cr_assert_str_eq(s.last_kind, "labeled", "any activity type a human did");
  cr_assert(strncmp(s.why, "active:", 7) == 0, "%s", s.why);
  /* the threshold is configurable */
  ghd_policy_t strict = policy;
  strict.stale_days = 3;
  ghd_staleness_eval(&i, a, 2, &strict, NOW, &s);
  cr_assert(s.stale);
  strict.ignore_logins = (const char *const[]){"dave"};
  strict.n_ignore = 1;
  ghd_staleness_eval(&i, a, 2, &strict, NOW, &s);
  cr_assert_str_eq(s.last_human, "bob", "a listed account is not human");
  tst_check_leaks();
}

Test(discovery, nobody_human_means_idle_since_opened)
{
  gh_issue_t i = issue_by("github-actions[bot]", true, NOW - 31 * DAY);
  gh_activity_t a[] = {act("commented", "ccm-bot", false, NOW - DAY)};
  ghd_staleness_t s;
  ghd_staleness_eval(&i, a, 1, &policy, NOW, &s);
  cr_assert(s.stale);
  cr_assert_eq(s.last_human_at, 0);
  cr_assert_str_eq(s.last_human, "");
  cr_assert_eq(s.idle_days, 31);
  cr_assert(strstr(s.why, "no human activity since it was opened"), "%s",
            s.why);
  i.created_at = NOW - 2 * DAY;
  ghd_staleness_eval(&i, NULL, 0, &policy, NOW, &s);
  cr_assert(!s.stale, "young issues are not stale");
  tst_check_leaks();
}

Test(discovery, exempt_labels_are_never_stale)
{
  gh_issue_t i = issue_by("alice", false, NOW - 400 * DAY);
  char *labels[] = {"bug", "pinned"};
  i.labels = labels;
  i.n_labels = 2;
  ghd_policy_t p = policy;
  p.exempt_labels = (const char *const[]){"security", "pinned"};
  p.n_exempt = 2;
  ghd_staleness_t s;
  ghd_staleness_eval(&i, NULL, 0, &p, NOW, &s);
  cr_assert(!s.stale);
  cr_assert(s.exempt);
  cr_assert_str_eq(s.why, "exempt from staleness (label pinned)");
  tst_check_leaks();
}

Test(discovery, recorded_comments_feed_the_clock)
{
  json_t *fx = ght_json_file(GHT_FIXTURES_DIR "/ccm-issue-comments.json");
  char *page = json_dumps(json_object_get(json_array_get(fx, 0), "response"),
                          JSON_COMPACT);
  char *page2 = json_dumps(json_object_get(json_array_get(fx, 1), "response"),
                           JSON_COMPACT);
  gh_activity_t *a = NULL, *b = NULL;
  size_t n = 0, m = 0;
  TST_OK(gh_comments_parse(page, strlen(page), &a, &n));
  TST_OK(gh_comments_parse(page2, strlen(page2), &b, &m));
  gh_activity_t all[8];
  cr_assert(n + m <= 8);
  memcpy(all, a, n * sizeof(*a));
  memcpy(all + n, b, m * sizeof(*b));
  gh_issue_t i = issue_by("alice", false, 1704067200);
  ghd_staleness_t s;
  /* alice 03-01, dependabot[bot] 03-02, ccm-bot (ccm itself) 03-03 */
  ghd_staleness_eval(&i, all, n + m, &policy, 1709460000 + 40 * DAY, &s);
  cr_assert_str_eq(s.last_human, "alice");
  cr_assert_eq(s.last_human_at, 1709287200);
  cr_assert(s.stale);
  gh_activities_free(a, n);
  gh_activities_free(b, m);
  free(page);
  free(page2);
  json_decref(fx);
  tst_check_leaks();
}

Test(discovery, finding_of_an_issue)
{
  gh_issue_t i = issue_by("alice", false, NOW - 90 * DAY);
  char *labels[] = {"bug"};
  i.labels = labels;
  i.n_labels = 1;
  i.html_url = "https://github.com/o/r/issues/12";
  ghd_staleness_t s;
  ghd_staleness_eval(&i, NULL, 0, &policy, NOW, &s);
  proto_finding_t f;
  TST_OK(ghd_issue_finding("r", "o/r", &i, &s, &f));
  cr_assert_str_eq(f.kind, "stale-issue", "90 days without a human");
  cr_assert_str_eq(s.stale_why,
                   "no human activity since 2024-04-04 (opened by alice)");
  cr_assert_str_eq(f.tag, "ISSUE");
  cr_assert_str_eq(f.loc.path, "o/r#12");
  cr_assert_str_eq(f.text, "Flaky test");
  cr_assert_str_eq(f.author, "alice");
  cr_assert_eq(f.issue_ref, 12);
  cr_assert_eq(strlen(f.fingerprint), 40);
  cr_assert(json_is_true(json_object_get(f.details, "stale")));
  cr_assert_str_eq(json_string_value(json_object_get(f.details, "why")),
                   s.why);
  cr_assert_str_eq(json_string_value(json_object_get(f.details, "last_human")),
                   "alice");
  proto_msg_t m = {.type = PROTO_FINDING, .u.finding = f};
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  cr_assert_eq(proto_msgpack_encode(&m, &sb), 0, "a valid protocol message");
  msgpack_sbuffer_destroy(&sb);

  proto_finding_t g;
  i.title = "Flaky test (renamed)";
  TST_OK(ghd_issue_finding("r", "o/r", &i, &s, &g));
  cr_assert_str_eq(g.fingerprint, f.fingerprint, "a new title, the same task");
  ghd_finding_fini(&g);
  ghd_staleness_t active;
  ghd_staleness_eval(&i, NULL, 0, &policy, i.created_at + DAY, &active);
  TST_OK(ghd_issue_finding("r", "o/r", &i, &active, &g));
  cr_assert_str_eq(g.kind, "issue");
  cr_assert_str_eq(active.stale_why, "");
  cr_assert_str_eq(g.fingerprint, f.fingerprint, "stale or not, one task");
  ghd_finding_fini(&g);
  i.number = 13;
  TST_OK(ghd_issue_finding("r", "o/r", &i, &s, &g));
  cr_assert_str_neq(g.fingerprint, f.fingerprint);
  ghd_finding_fini(&g);
  i.is_pull_request = true;
  cr_assert_eq(ghd_issue_finding("r", "o/r", &i, &s, &g), GH_EINVAL);
  cr_assert_eq(ghd_issue_finding("r", "bad", &i, &s, &g), GH_EINVAL);
  ghd_finding_fini(&f);
  tst_check_leaks();
}
