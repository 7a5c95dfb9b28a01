/*
 * fuzz_webhook.c: libFuzzer target for the webhook route's JSON object
 * check (github/json_check.c, gh__json_object_ok), against jansson.
 *
 * The check decides the 400 before the payload is parsed, so it must
 * never refuse an object jansson parses, and whatever it takes jansson
 * must parse, except a number past jansson's limits (an integer past
 * int64, a real past a double: valid JSON, which the route acknowledges
 * as an ignored event, github/webhook.c gh_webhook_handle); nesting
 * deeper than the check's bound is the check's own refusal, and so is a
 * NUL byte between tokens (jansson skips it; RFC 8259 does not). Build and run:
 * fuzz/run.sh webhook SECONDS.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz/fuzz_check.h"
#include "github/gh_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The deepest bracket nesting outside strings. */
static size_t depth_of(const uint8_t *p, size_t n)
{
  size_t d = 0, max = 0;
  bool in_str = false;
  for (size_t i = 0; i < n; i++) {
    if (in_str) {
      if (p[i] == '\\')
        i++;
      else if (p[i] == '"')
        in_str = false;
    } else if (p[i] == '"') {
      in_str = true;
    } else if (p[i] == '{' || p[i] == '[') {
      if (++d > max)
        max = d;
    } else if ((p[i] == '}' || p[i] == ']') && d) {
      d--;
    }
  }
  return max;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  bool mine = gh__json_object_ok(data, size);
  json_error_t err;
  json_t *j = json_loadb((const char *)data, size, 0, &err);
  bool theirs = json_is_object(j);
  json_decref(j);
  bool jansson_limit = !j && (strstr(err.text, "too big") ||
                              strstr(err.text, "real number overflow"));
  /* jansson skips a NUL byte between tokens; RFC 8259 does not */
  if (theirs && !memchr(data, 0, size))
    FUZZ_CHECK(mine || depth_of(data, size) > GH__JSON_DEPTH,
               "refused an object jansson parsed (%zu bytes)", size);
  if (mine)
    FUZZ_CHECK(theirs || jansson_limit, "took what jansson refused: %s",
               err.text);
  return 0;
}
