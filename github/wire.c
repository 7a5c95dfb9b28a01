/*
 * wire.c: requests and responses of the client actor as msgpack maps.
 *
 * Request  {"m": method, "p": path, "b": body|nil, "f": flags, "n": pages}
 * Response {"rc", "st", "b", "e", "fc", "tr", "nx", "pg", "at", "cn",
 *           "rr", "rs", "rres", "err"}
 * Short keys: these maps cross one mailbox, they are not a public format.
 * Decoding checks every type and ignores unknown keys.
 */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "github/gh_int.h"

/* ------------------------------------------------------------ packing */

void gh__pack_key(msgpack_packer *pk, const char *k)
{
  size_t n = strlen(k);
  msgpack_pack_str(pk, n);
  msgpack_pack_str_body(pk, k, n);
}

void gh__pack_str(msgpack_packer *pk, const char *k, const char *v, size_t n)
{
  gh__pack_key(pk, k);
  if (!v) {
    msgpack_pack_nil(pk);
    return;
  }
  msgpack_pack_str(pk, n);
  msgpack_pack_str_body(pk, v, n);
}

void gh__pack_cstr(msgpack_packer *pk, const char *k, const char *v)
{
  gh__pack_str(pk, k, v, v ? strlen(v) : 0);
}

void gh__pack_i64(msgpack_packer *pk, const char *k, int64_t v)
{
  gh__pack_key(pk, k);
  msgpack_pack_int64(pk, v);
}

int gh__sbuffer_msg(uint32_t type, msgpack_sbuffer *sb, rt_msg_t **out)
{
  size_t len = sb->size;
  void *data = msgpack_sbuffer_release(sb);
  if (!data)
    return rt_msg_new(type, NULL, 0, out);
  return rt_msg_new_take(type, data, len, out);
}

void gh__map_begin(gh__map_t *m, size_t pairs)
{
  msgpack_sbuffer_init(&m->sb);
  msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
  msgpack_pack_map(&m->pk, pairs);
}

int gh__map_msg(gh__map_t *m, uint32_t type, rt_msg_t **out)
{
  int rc = gh__sbuffer_msg(type, &m->sb, out);
  msgpack_sbuffer_destroy(&m->sb);
  return rc;
}

int gh_request_msg(const gh_request_t *req, rt_msg_t **out)
{
  *out = NULL;
  if (!req || !req->path || !*req->path || (unsigned)req->method > GH_DELETE)
    return GH_EINVAL;
  gh__map_t w;
  gh__map_begin(&w, 5);
  gh__pack_i64(&w.pk, "m", req->method);
  gh__pack_cstr(&w.pk, "p", req->path);
  gh__pack_cstr(&w.pk, "b", req->body);
  gh__pack_i64(&w.pk, "f", req->flags);
  gh__pack_i64(&w.pk, "n", req->max_pages);
  return gh__map_msg(&w, GH_MSG_REQUEST, out);
}

int gh__response_msg(const gh_response_t *r, rt_msg_t **out)
{
  gh__map_t w;
  gh__map_begin(&w, 14);
  gh__pack_i64(&w.pk, "rc", r->rc);
  gh__pack_i64(&w.pk, "st", r->status);
  gh__pack_str(&w.pk, "b", r->body, r->len);
  gh__pack_cstr(&w.pk, "e", r->etag);
  gh__pack_i64(&w.pk, "fc", r->from_cache);
  gh__pack_i64(&w.pk, "tr", r->truncated);
  gh__pack_cstr(&w.pk, "nx", r->next);
  gh__pack_i64(&w.pk, "pg", r->pages);
  gh__pack_i64(&w.pk, "at", r->attempts);
  gh__pack_i64(&w.pk, "cn", r->connects);
  gh__pack_i64(&w.pk, "rr", r->rl_remaining);
  gh__pack_i64(&w.pk, "rs", r->rl_reset);
  gh__pack_cstr(&w.pk, "rres", r->rl_resource);
  gh__pack_cstr(&w.pk, "err", r->error);
  return gh__map_msg(&w, GH_MSG_RESPONSE, out);
}

/* ----------------------------------------------------------- decoding */

static bool key_is(const msgpack_object *k, const char *name)
{
  size_t n = strlen(name);
  return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
         memcmp(k->via.str.ptr, name, n) == 0;
}

static int take_strings(const msgpack_object *v, const gh__field_t *f)
{
  if (v->type == MSGPACK_OBJECT_NIL)
    return 0;
  if (v->type != MSGPACK_OBJECT_ARRAY)
    return GH_EMALFORMED;
  const msgpack_object_array *a = &v->via.array;
  char **out = a->size ? calloc(a->size, sizeof(*out)) : NULL;
  if (a->size && !out)
    return GH_ENOMEM;
  int rc = 0;
  for (uint32_t i = 0; !rc && i < a->size; i++) {
    const msgpack_object *it = &a->ptr[i];
    if (it->type != MSGPACK_OBJECT_STR)
      rc = GH_EMALFORMED;
    else if (!(out[i] = malloc(it->via.str.size + 1)))
      rc = GH_ENOMEM;
    else { /* not strndup: the bytes are not NUL-terminated */
      memcpy(out[i], it->via.str.ptr, it->via.str.size);
      out[i][it->via.str.size] = '\0';
    }
  }
  if (rc) {
    for (uint32_t i = 0; i < a->size; i++)
      free(out[i]);
    free(out);
    return rc;
  }
  char **old = *(char ***)f->dst;
  for (size_t i = 0; old && i < *f->len; i++)
    free(old[i]);
  free(old);
  *(char ***)f->dst = out;
  *f->len = a->size;
  return 0;
}

static int take_field(const msgpack_object *v, const gh__field_t *f)
{
  if (f->kind == GH__F_STRS)
    return take_strings(v, f);
  if (f->kind == GH__F_INT) {
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
      *(int64_t *)f->dst = (int64_t)v->via.u64;
    else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
      *(int64_t *)f->dst = v->via.i64;
    else
      return GH_EMALFORMED;
    return 0;
  }
  if (v->type == MSGPACK_OBJECT_NIL)
    return 0;
  if (v->type != MSGPACK_OBJECT_STR)
    return GH_EMALFORMED;
  char *s = malloc(v->via.str.size + 1);
  if (!s)
    return GH_ENOMEM;
  memcpy(s, v->via.str.ptr, v->via.str.size);
  s[v->via.str.size] = 0;
  free(*(char **)f->dst);
  *(char **)f->dst = s;
  if (f->len)
    *f->len = v->via.str.size;
  return 0;
}

int gh__decode_map(const void *data, size_t len, const gh__field_t *fields,
                  size_t nfields)
{
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  int rc = GH_EMALFORMED;
  if (data && msgpack_unpack_next(&u, data, len, &off) ==
                  MSGPACK_UNPACK_SUCCESS &&
      off == len && u.data.type == MSGPACK_OBJECT_MAP) {
    rc = 0;
    const msgpack_object_map *m = &u.data.via.map;
    for (uint32_t i = 0; !rc && i < m->size; i++)
      for (size_t j = 0; j < nfields; j++)
        if (key_is(&m->ptr[i].key, fields[j].key)) {
          rc = take_field(&m->ptr[i].val, &fields[j]);
          break;
        }
  }
  msgpack_unpacked_destroy(&u);
  return rc;
}

int gh__request_decode(const void *data, size_t len, gh_request_t *out)
{
  memset(out, 0, sizeof(*out));
  int64_t method = -1, flags = 0, pages = 0;
  char *path = NULL, *body = NULL;
  const gh__field_t f[] = {{"m", GH__F_INT, &method, NULL},
                       {"p", GH__F_STR, &path, NULL},
                       {"b", GH__F_STR, &body, NULL},
                       {"f", GH__F_INT, &flags, NULL},
                       {"n", GH__F_INT, &pages, NULL}};
  int rc = gh__decode_map(data, len, f, sizeof(f) / sizeof(f[0]));
  if (!rc && (method < GH_GET || method > GH_DELETE || !path || !*path ||
              flags < 0 || flags > UINT32_MAX || pages < 0 ||
              pages > UINT32_MAX))
    rc = GH_EMALFORMED;
  if (rc) {
    free(path);
    free(body);
    return rc;
  }
  out->method = (gh_method_t)method;
  out->path = path;
  out->body = body;
  out->flags = (uint32_t)flags;
  out->max_pages = (uint32_t)pages;
  return 0;
}

void gh__request_fini(gh_request_t *r)
{
  free((char *)r->path);
  free((char *)r->body);
  memset(r, 0, sizeof(*r));
}

int gh_response_decode(const rt_msg_t *msg, gh_response_t *out)
{
  memset(out, 0, sizeof(*out));
  if (!msg || rt_msg_type(msg) != GH_MSG_RESPONSE)
    return GH_EMALFORMED;
  size_t len = 0;
  const void *data = rt_msg_data(msg, &len);
  int64_t rc_v = GH_EMALFORMED, st = 0, fc = 0, tr = 0, pg = 0, at = 0,
          cn = 0, rr = -1, rs = 0;
  const gh__field_t f[] = {
      {"rc", GH__F_INT, &rc_v, NULL},          {"st", GH__F_INT, &st, NULL},
      {"b", GH__F_STR, &out->body, &out->len}, {"e", GH__F_STR, &out->etag, NULL},
      {"fc", GH__F_INT, &fc, NULL},            {"tr", GH__F_INT, &tr, NULL},
      {"nx", GH__F_STR, &out->next, NULL},     {"pg", GH__F_INT, &pg, NULL},
      {"at", GH__F_INT, &at, NULL},            {"cn", GH__F_INT, &cn, NULL},
      {"rr", GH__F_INT, &rr, NULL},            {"rs", GH__F_INT, &rs, NULL},
      {"rres", GH__F_STR, &out->rl_resource, NULL},
      {"err", GH__F_STR, &out->error, NULL}};
  int rc = gh__decode_map(data, len, f, sizeof(f) / sizeof(f[0]));
  if (rc) {
    gh_response_fini(out);
    out->rc = rc;
    return rc;
  }
  out->rc = (int)rc_v;
  out->status = (int)st;
  out->from_cache = fc != 0;
  out->truncated = tr != 0;
  out->pages = (uint32_t)pg;
  out->attempts = (uint32_t)at;
  out->connects = (uint32_t)cn;
  out->rl_remaining = rr;
  out->rl_reset = rs;
  return 0;
}

void gh_response_fini(gh_response_t *r)
{
  if (!r)
    return;
  free(r->body);
  free(r->etag);
  free(r->next);
  free(r->rl_resource);
  free(r->error);
  memset(r, 0, sizeof(*r));
  r->rl_remaining = -1;
}
