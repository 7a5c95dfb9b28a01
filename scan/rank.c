/* rank.c: see rank.h. */
#include "scan/rank.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static double kind_base(const char *kind)
{
  static const struct {
    const char *k;
    double s;
  } base[] = {
      {"secret", 9}, {"bug", 8},      {"fixme", 7},    {"hack", 6},
      {"xxx", 6},    {"todo", 5},     {"refactor", 4}, {"optimize", 3},
  };
  for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) {
    if (!strcmp(kind, base[i].k))
      return base[i].s;
  }
  return 4;
}

double scan_default_score(const char *kind, const char *due, bool has_issue,
                          const char *today, char *why, size_t whylen)
{
  char now[16];
  if (!today) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%d", &tm);
    today = now;
  }
  double base = kind_base(kind);
  bool overdue = due && strcmp(due, today) < 0;
  double score = base + (overdue ? 2 : 0) + (has_issue ? 0.5 : 0);
  if (why && whylen)
    snprintf(why, whylen, "default rank: %s %.0f%s%s", kind, base,
             overdue ? ", overdue +2" : "", has_issue ? ", issue +0.5" : "");
  return score;
}
