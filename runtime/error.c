/*
 * error.c: rt_strerror() from the single RT_ERRNO_MAP table.
 */
#include <stdio.h>
#include <string.h>

#include "runtime/rt.h"

const char *rt_strerror(int rc)
{
  static _Thread_local char buf[128];

  switch (rc) {
  case 0:
    return "OK: success";
#define RT_ERR_CASE(name, code, text) \
  case RT_##name:                     \
    return "RT_" #name ": " text;
    RT_ERRNO_MAP(RT_ERR_CASE)
#undef RT_ERR_CASE
  default:
    break;
  }
  if (rc < 0 && rc > -4096) {
    char tmp[96];
    const char *s = strerror_r(-rc, tmp, sizeof(tmp));
    snprintf(buf, sizeof(buf), "errno %d: %s", -rc, s);
    return buf;
  }
  snprintf(buf, sizeof(buf), "unknown error %d", rc);
  return buf;
}
