/*
 * http.c: libcurl's multi_socket interface driven by the actor runtime.
 *
 * curl tells us which descriptors it waits on (socket callback) and when
 * it next needs a call (timer callback). We turn the first into one-shot
 * rt_fd_watch() watches whose readiness arrives as RT_MSG_IO_READY in the
 * owning actor's mailbox, and the second into one rt timer whose tick is
 * GH__MSG_CURL_TIMER. Every curl call happens inside that actor's hooks.
 *
 * Invariants:
 *  - `socks` lists exactly the descriptors curl currently asks us to
 *    watch; each has a tag (a generation). A readiness message whose tag is
 *    not the entry's current one is stale (the descriptor was closed and
 *    its number reused, or the entry was dropped) and is ignored.
 *  - A watch is one-shot: after handing curl an event we re-arm the entry
 *    if it still exists; re-arming twice is harmless (EPOLL_CTL_MOD).
 *  - The close-socket hook removes the watch before close(), so the
 *    runtime never keeps a watch on a descriptor that is not ours.
 *  - At most one curl timer tick is meaningful: the one whose id is
 *    timer_id; older ticks (cancelled too late) are ignored.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "github/gh_int.h"
#include "runtime/timer.h"

static gh__sock_t *sock_find(gh__http_t *h, curl_socket_t fd)
{
  for (size_t i = 0; i < h->nsocks; i++)
    if (h->socks[i].fd == fd)
      return &h->socks[i];
  return NULL;
}

static gh__sock_t *sock_add(gh__http_t *h, curl_socket_t fd)
{
  if (h->nsocks == h->capsocks) {
    size_t cap = h->capsocks ? h->capsocks * 2 : 8;
    gh__sock_t *p = realloc(h->socks, cap * sizeof(*p));
    if (!p)
      return NULL;
    h->socks = p;
    h->capsocks = cap;
  }
  gh__sock_t *s = &h->socks[h->nsocks++];
  s->fd = fd;
  s->want = 0;
  s->tag = ++h->next_tag;
  return s;
}

static void sock_forget(gh__http_t *h, curl_socket_t fd)
{
  gh__sock_t *s = sock_find(h, fd);
  if (!s)
    return;
  rt_fd_unwatch(h->rt, fd);
  *s = h->socks[--h->nsocks];
}

static void sock_arm(gh__http_t *h, const gh__sock_t *s)
{
  uint32_t ev = 0;
  if (s->want & CURL_POLL_IN)
    ev |= RT_IO_READ;
  if (s->want & CURL_POLL_OUT)
    ev |= RT_IO_WRITE;
  /* A failure here (shutdown) leaves the transfer to curl's own timeout. */
  if (ev)
    rt_fd_watch(h->rt, s->fd, ev, h->self, s->tag);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
                     void *socketp)
{
  gh__http_t *h = userp;
  (void)easy;
  (void)socketp;
  if (what == CURL_POLL_REMOVE) {
    sock_forget(h, fd);
    return 0;
  }
  gh__sock_t *s = sock_find(h, fd);
  if (!s && !(s = sock_add(h, fd)))
    return -1; /* out of memory: curl fails the transfer */
  s->want = what;
  sock_arm(h, s);
  return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
  gh__http_t *h = userp;
  (void)multi;
  if (h->timer_id) {
    rt_timer_cancel(h->rt, h->timer_id);
    h->timer_id = 0;
  }
  if (timeout_ms < 0)
    return 0;
  uint64_t id = 0;
  if (rt_timer_start(h->rt, h->self, GH__MSG_CURL_TIMER, (uint64_t)timeout_ms,
                     0, &id))
    return -1;
  h->timer_id = id;
  return 0;
}

/* curl closes a socket: drop its watch first (see the invariants). */
static int on_close_socket(void *clientp, curl_socket_t fd)
{
  sock_forget(clientp, fd);
  return close(fd);
}

static void drain_done(gh__http_t *h)
{
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(h->multi, &left))) {
    if (m->msg == CURLMSG_DONE)
      h->done(h->done_arg, m->easy_handle, m->data.result);
  }
}

int gh__http_init(gh__http_t *h, rt_runtime_t *rt, rt_actor_t *self,
                  gh__http_done_fn done, void *arg)
{
  memset(h, 0, sizeof(*h));
  h->rt = rt;
  h->self = self;
  h->done = done;
  h->done_arg = arg;
  h->multi = curl_multi_init();
  if (!h->multi)
    return GH_ECURL;
  curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
  curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
  return 0;
}

int gh__http_add(gh__http_t *h, CURL *easy)
{
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, h);
  return curl_multi_add_handle(h->multi, easy) == CURLM_OK ? 0 : GH_ECURL;
}

void gh__http_remove(gh__http_t *h, CURL *easy)
{
  curl_multi_remove_handle(h->multi, easy);
}

void gh__http_on_io(gh__http_t *h, const rt_io_event_t *ev)
{
  gh__sock_t *s = sock_find(h, ev->fd);
  if (!s || s->tag != ev->tag)
    return; /* stale: see the invariants */
  uint64_t tag = s->tag;
  int flags = 0;
  if (ev->events & (RT_IO_READ | RT_IO_HANGUP))
    flags |= CURL_CSELECT_IN;
  if (ev->events & RT_IO_WRITE)
    flags |= CURL_CSELECT_OUT;
  if (ev->events & RT_IO_ERROR)
    flags |= CURL_CSELECT_ERR;
  int running = 0;
  curl_multi_socket_action(h->multi, ev->fd, flags, &running);
  /* the entry may have moved or gone during the call */
  s = sock_find(h, ev->fd);
  if (s && s->tag == tag)
    sock_arm(h, s);
  drain_done(h);
}

void gh__http_on_timer(gh__http_t *h, uint64_t timer_id)
{
  if (timer_id != h->timer_id)
    return; /* a tick that was cancelled too late */
  h->timer_id = 0;
  int running = 0;
  curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  drain_done(h);
}

void gh__http_fini(gh__http_t *h)
{
  if (h->timer_id)
    rt_timer_cancel(h->rt, h->timer_id);
  h->timer_id = 0;
  if (h->multi)
    curl_multi_cleanup(h->multi); /* closes pooled connections (hook) */
  h->multi = NULL;
  if (h->timer_id) /* armed again during the cleanup */
    rt_timer_cancel(h->rt, h->timer_id);
  h->timer_id = 0;
  /* Nothing should be left; if curl kept a watch, drop it anyway. */
  while (h->nsocks)
    sock_forget(h, h->socks[0].fd);
  free(h->socks);
  h->socks = NULL;
  h->capsocks = 0;
}
