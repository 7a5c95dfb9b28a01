/*
 * publish.c: titles and bodies for pull requests and mention comments
 * (see publish.h). Built with open_memstream: each text is one stream.
 */
#include "actors/executor/publish.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/executor/stream.h"

#define TITLE_MAX 200 /* GitHub allows 256; a title is one line */
#define BODY_FILES 20 /* files listed in a pull request body */

static const char *or_empty(const char *s)
{
  return s ? s : "";
}

/* The first line of @p s, cleaned, at most @p cap - 1 bytes. */
static void first_line(const char *s, char *out, size_t cap)
{
  size_t n = strcspn(or_empty(s), "\r\n");
  exec_text_clean(or_empty(s), n, out, cap);
}

char *exec_pr_title(const proto_task_t *task)
{
  char line[TITLE_MAX], *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f)
    return NULL;
  first_line(task->title, line, sizeof line);
  if (line[0])
    fprintf(f, "ccm: %s", line);
  else if (task->loc.path)
    fprintf(f, "ccm: %s in %s:%" PRIu32, or_empty(task->kind),
            task->loc.path, task->loc.line);
  else
    fprintf(f, "ccm: %s %s", or_empty(task->kind), task->id);
  return fclose(f) == 0 ? text : (free(text), NULL);
}

static void body_files(FILE *f, const json_t *outcome)
{
  const json_t *files = json_object_get(outcome, "files");
  size_t i;
  const json_t *file;
  fprintf(f, "\n| file | + | - |\n|---|---|---|\n");
  json_array_foreach(files, i, file) {
    if (i == BODY_FILES) {
      fprintf(f, "| ... %zu more | | |\n", json_array_size(files) - i);
      break;
    }
    fprintf(f, "| `%s` | %" JSON_INTEGER_FORMAT " | %" JSON_INTEGER_FORMAT
            " |\n", or_empty(json_string_value(json_object_get(file, "path"))),
            json_integer_value(json_object_get(file, "added")),
            json_integer_value(json_object_get(file, "deleted")));
  }
}

char *exec_pr_body(const proto_task_t *task, const json_t *outcome)
{
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f)
    return NULL;
  fprintf(f, "Opened by ccm for task `%s` (%s", task->id, or_empty(task->kind));
  if (task->loc.path)
    fprintf(f, ", `%s:%" PRIu32 "`", task->loc.path, task->loc.line);
  fprintf(f, ").\n\n");
  if (task->text) {
    char line[512];
    first_line(task->text, line, sizeof line);
    fprintf(f, "> %s\n\n", line);
  }
  if (task->issue_number)
    fprintf(f, "Closes #%" PRIu32 ".\n\n", task->issue_number);
  const json_t *cost = json_object_get(outcome, "cost_usd");
  fprintf(f, "Agent: %s, attempt %" JSON_INTEGER_FORMAT ", %s",
          or_empty(json_string_value(json_object_get(outcome, "preset"))),
          json_integer_value(json_object_get(outcome, "attempt")),
          or_empty(json_string_value(json_object_get(outcome, "reason"))));
  if (json_is_number(cost))
    fprintf(f, " ($%.4f)", json_number_value(cost));
  fprintf(f, ".\nChanges: %" JSON_INTEGER_FORMAT " files, +%"
          JSON_INTEGER_FORMAT " -%" JSON_INTEGER_FORMAT "; the policy gate and"
          " the repository's tests passed.\n",
          json_integer_value(json_object_get(outcome, "files_changed")),
          json_integer_value(json_object_get(outcome, "lines_added")),
          json_integer_value(json_object_get(outcome, "lines_deleted")));
  body_files(f, outcome);
  fprintf(f, "\n<!-- ccm:task=%s -->\n", task->id);
  return fclose(f) == 0 ? text : (free(text), NULL);
}

char *exec_mention_body(const char *mention, const char *prompt,
                        const proto_task_t *task, const char *branch)
{
  char *text = NULL;
  size_t len = 0, plen = strlen(or_empty(prompt));
  FILE *f = open_memstream(&text, &len);
  if (!f)
    return NULL;
  if (plen > EXEC_GH_BODY_MAX)
    plen = EXEC_GH_BODY_MAX;
  fprintf(f, "%s %.*s\n\n", mention, (int)plen, or_empty(prompt));
  fprintf(f, "Please push the work to the branch `%s` and open a pull "
          "request from it that says \"Closes #%" PRIu32 "\".\n",
          branch, task->issue_number);
  fprintf(f, "\n<!-- ccm:task=%s -->\n", task->id);
  return fclose(f) == 0 ? text : (free(text), NULL);
}

int exec_comment_parse(const char *json, size_t len, char *url, size_t ulen,
                       int64_t *id)
{
  json_t *o = json_loadb(json ? json : "", json ? len : 0, 0, NULL);
  url[0] = '\0';
  *id = 0;
  if (!json_is_object(o)) {
    json_decref(o);
    return -1;
  }
  const char *u = json_string_value(json_object_get(o, "html_url"));
  if (u)
    exec_text_clean(u, strlen(u), url, ulen);
  *id = (int64_t)json_integer_value(json_object_get(o, "id"));
  json_decref(o);
  return 0;
}
