/*
 * publish.h: what ccm says on GitHub for a run (actors/executor/ only).
 *
 * Publishing (a repository with `publish` on): a run whose change passed
 * the gate and the tests has its branch ccm/<task-id> pushed, then a pull
 * request opened with the title and body made here. The body names the
 * task, the agent's outcome and the diff stat, and links the task's issue
 * ("Closes #N"), so GitHub links issue and pull request; the webhooks then
 * find the task again by the head branch ccm/<task-id> or the pr_url
 * recorded on it (merged -> done, closed unmerged -> rejected).
 *
 * The github-mention preset delegates instead: one comment on the task's
 * issue, addressed to the configured mention ("@claude"), carrying the
 * rendered prompt and asking for the work on branch ccm/<task-id>, so
 * the same webhooks match the pull request that comes back. Both bodies
 * end with a hidden marker <!-- ccm:task=<id> --> naming the task.
 *
 * Pure: strings in, strings out (malloc'd; NULL only when out of memory).
 */
#ifndef CCM_EXEC_PUBLISH_H
#define CCM_EXEC_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "protocol/proto.h"

/* GitHub caps an issue comment or pull request body at 65,536 characters;
 * ours stay well below (the prompt part is cut to this many bytes). */
#define EXEC_GH_BODY_MAX 60000

/** "ccm: <task title>" (or the kind and path when untitled), one line. */
char *exec_pr_title(const proto_task_t *task);

/** The pull request's body for @p task and its run's @p outcome (the
 * outcome event's data: class, reason, session_id, cost_usd, files, ...). */
char *exec_pr_body(const proto_task_t *task, const json_t *outcome);

/** The github-mention comment: "@claude <prompt>" plus where to put the
 * work (@p branch) and the task marker. */
char *exec_mention_body(const char *mention, const char *prompt,
                        const proto_task_t *task, const char *branch);

/** From a created comment's JSON: its html_url (cut to @p ulen) and id.
 * @return 0, or -1 when the body is not a JSON object. */
int exec_comment_parse(const char *json, size_t len, char *url, size_t ulen,
                       int64_t *id);

#endif /* CCM_EXEC_PUBLISH_H */
