/*
 * fuzz_config.c: libFuzzer target for the ccm.yaml loader (config/).
 *
 * Input: the bytes as a config file (cfg_load_buffer). Checked:
 *   - the result is 0 with no error, or CFG_EINVALID / CFG_ETOOBIG with at
 *     least one error and the output left zeroed;
 *   - at most CFG_ERRORS_MAX errors (+1 when the check stopped early),
 *     sorted by place, each with a non-empty message that is valid UTF-8
 *     without control characters (messages quote the file), a line
 *     within the input's lines (every YAML line break counted) and a
 *     column >= 1 where there is a line;
 *   - a loaded config keeps its promises: listen has a host, at least one
 *     repository, each with a path or a valid owner/name split in two,
 *     every preset has a command and agents.default names one, counts
 *     and sizes within their documented bounds, strings free of control
 *     characters other than tab and line ends; cfg_describe works.
 * Build (as fuzz/run.sh builds it):
 *   clang-14 -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
 *     -fno-sanitize-recover=all -I. config/{config,errors,schema,secrets,
 *     tree,values}.c fuzz/fuzz_config.c
 *     -o build-fuzz/fuzz_config -lyaml -lm
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"
#include "fuzz/fuzz_check.h"

#define CHECK FUZZ_CHECK

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Lines as libyaml counts them: \n, \r\n, \r, NEL, LS, PS end a line. */
static unsigned count_lines(const uint8_t *d, size_t n)
{
  unsigned lines = 1;
  for (size_t i = 0; i < n; i++) {
    if (d[i] == '\n' || (d[i] == '\r' && (i + 1 == n || d[i + 1] != '\n')))
      lines++;
    else if (d[i] == 0xC2 && i + 1 < n && d[i + 1] == 0x85)
      lines++;
    else if (d[i] == 0xE2 && i + 2 < n && d[i + 1] == 0x80 &&
             (d[i + 2] == 0xA8 || d[i + 2] == 0xA9))
      lines++;
  }
  return lines;
}

static int valid_text(const char *s, int allow_breaks)
{
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    size_t n = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2
             : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0)
      return 0;
    if (n == 1 && (*p < 0x20 || *p == 0x7F) &&
        !(allow_breaks && (*p == '\t' || *p == '\n' || *p == '\r')))
      return 0;
    for (size_t i = 1; i < n; i++)
      if ((p[i] & 0xC0) != 0x80)
        return 0;
    p += n;
  }
  return 1;
}

static void check_errors(const cfg_errors_t *e, unsigned lines)
{
  CHECK(e->n <= CFG_ERRORS_MAX + 1, "%zu errors", e->n);
  for (size_t i = 0; i < e->n; i++) {
    const cfg_error_t *x = &e->v[i];
    CHECK(x->message && x->message[0], "error %zu has no message", i);
    CHECK(valid_text(x->message, 0), "message not clean: %s", x->message);
    CHECK(x->line <= lines, "line %u of %u: %s", x->line, lines, x->message);
    CHECK(x->line == 0 || x->column >= 1, "column 0: %s", x->message);
    if (i > 0) {
      const cfg_error_t *p = &e->v[i - 1];
      CHECK(p->line < x->line ||
                (p->line == x->line && p->column <= x->column),
            "errors out of order at %zu", i);
    }
  }
}

static void check_repo(const cfg_repo_t *r)
{
  CHECK(r->path || r->github, "a repository with neither path nor github");
  if (!r->github)
    return;
  CHECK(cfg__github_name_problem(r->github) == NULL, "bad github %s",
        r->github);
  char joined[256];
  snprintf(joined, sizeof joined, "%s/%s", r->github_owner, r->github_name);
  CHECK(!strcmp(joined, r->github), "split %s -> %s", r->github, joined);
}

static void check_loaded(const cfg_t *c)
{
  CHECK(c->listen.host && c->listen.text && c->data_dir, "missing strings");
  CHECK(valid_text(c->data_dir, 1) && valid_text(c->listen.text, 0),
        "control characters in a value");
  CHECK(c->nrepos >= 1, "no repository");
  for (size_t i = 0; i < c->nrepos; i++)
    check_repo(&c->repos[i]);
  CHECK(cfg_default_preset(c) != NULL, "agents.default names no preset");
  for (size_t i = 0; i < c->agents.npresets; i++)
    CHECK(c->agents.presets[i].command.n >= 1, "preset %s: no command",
          c->agents.presets[i].name);
  CHECK(c->agents.concurrency >= 1 && c->agents.concurrency <= 64,
        "concurrency %u", c->agents.concurrency);
  CHECK(c->scan.max_file_size >= 1 && c->scan.max_file_size <= (1u << 30),
        "max_file_size %llu", (unsigned long long)c->scan.max_file_size);
  CHECK(c->scan.markers.n <= 64, "%zu markers", c->scan.markers.n);
  CHECK(c->agents.budget.max_turns >= 1, "max_turns 0");
  for (size_t i = 0; i < c->nwebhooks; i++)
    CHECK(c->webhooks[i].url && c->webhooks[i].events != 0,
          "webhook %zu without url or events", i);
  char line[512];
  CHECK(cfg_describe(c, line, sizeof line) > 0, "describe failed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  cfg_t c;
  cfg_errors_t e;
  int rc = cfg_load_buffer("fuzz.yaml", (const char *)data, size, &c, &e);
  CHECK(rc == 0 || rc == CFG_EINVALID || rc == CFG_ETOOBIG, "rc %d", rc);
  check_errors(&e, count_lines(data, size));
  if (rc == 0) {
    CHECK(e.n == 0 && e.dropped == 0, "success with %zu errors", e.n);
    check_loaded(&c);
  } else {
    static const cfg_t zero;
    CHECK(e.n >= 1, "failure (%d) without an error", rc);
    CHECK(memcmp(&c, &zero, sizeof c) == 0, "output not zeroed on failure");
  }
  cfg_fini(&c);
  cfg_errors_fini(&e);
  return 0;
}
