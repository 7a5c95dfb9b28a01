/*
 * test_store_files.c: the store's file records for incremental rescans
 * (store/store_files.c): a record and a repository's scan state read back
 * as written (blame cache included), a delete forgets one file, foreach
 * lists one repository's files in path order and nothing of a neighbour
 * whose id shares its prefix, the reader sees what a point read sees, and
 * the store actor's "scan_files" command writes (and refuses bad shapes).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_actor.h"
#include "tests/support/rt_test.h"
#include "tests/support/store_test.h"

static store_t *open_tmp(char **dir)
{
  *dir = tst_tmpdir();
  store_options_t o = {.no_sync = true};
  return tst_store_open(*dir, &o);
}

static void close_tmp(store_t *s, char *dir)
{
  store_close(s);
  tst_rmrf(dir);
  free(dir);
}

static void put_file(store_t *s, const char *repo, const char *path,
                     const store_file_t *f)
{
  store_txn_t *t = NULL;
  TST_OK(store_write_begin(s, &t));
  TST_OK(store_file_put(t, repo, path, f));
  TST_OK(store_write_commit(t));
}

Test(store_files, record_and_state_round_trip)
{
  char *dir;
  store_t *s = open_tmp(&dir);
  store_file_t f = {.size = 1234, .mtime_ns = 1700000000123456789LL,
                    .scanned_at = 1700000000999LL, .flags = STORE_FILE_DIRTY};
  snprintf(f.blob, sizeof f.blob, "%s", "0123456789abcdef0123456789abcdef01234567");
  f.blame = json_pack("[[i,s,i]]", 3, "Ada", 1600000000);
  put_file(s, "repo", "src/a.c", &f);
  json_decref(f.blame);

  store_scan_state_t st = {.at = 42};
  snprintf(st.commit, sizeof st.commit, "%s", "fedcba9876543210fedcba9876543210fedcba98");
  snprintf(st.settings, sizeof st.settings, "%s", "00ff00ff00ff00ff");
  store_txn_t *t = NULL;
  TST_OK(store_write_begin(s, &t));
  TST_OK(store_scan_state_put(t, "repo", &st));
  TST_OK(store_write_commit(t));

  store_file_t back;
  TST_OK(store_file_get(s, "repo", "src/a.c", &back));
  cr_assert_eq(back.size, 1234);
  cr_assert_eq(back.mtime_ns, 1700000000123456789LL);
  cr_assert_eq(back.scanned_at, 1700000000999LL);
  cr_assert_eq(back.flags, STORE_FILE_DIRTY);
  cr_assert_str_eq(back.blob, "0123456789abcdef0123456789abcdef01234567");
  cr_assert(json_is_array(back.blame));
  cr_assert_str_eq(json_string_value(json_array_get(json_array_get(back.blame, 0), 1)),
                   "Ada");
  store_file_fini(&back);
  cr_assert_null(back.blame);

  store_scan_state_t st2;
  TST_OK(store_scan_state_get(s, "repo", &st2));
  cr_assert_str_eq(st2.commit, st.commit);
  cr_assert_str_eq(st2.settings, st.settings);
  cr_assert_eq(st2.at, 42);
  cr_assert_eq(store_file_get(s, "repo", "src/b.c", &back), STORE_ENOTFOUND);
  cr_assert_eq(store_scan_state_get(s, "other", &st2), STORE_ENOTFOUND);

  TST_OK(store_write_begin(s, &t));
  TST_OK(store_file_delete(t, "repo", "src/a.c"));
  TST_OK(store_file_delete(t, "repo", "src/a.c")); /* absent: fine */
  TST_OK(store_write_commit(t));
  cr_assert_eq(store_file_get(s, "repo", "src/a.c", &back), STORE_ENOTFOUND);
  TST_OK(store_scan_state_get(s, "repo", &st2)); /* the state stays */
  close_tmp(s, dir);
}

typedef struct listing {
  char paths[8][64];
  uint64_t sizes[8];
  bool blame_seen;
  int n;
} listing_t;

static int list_one(const char *path, size_t len, const store_file_t *f,
                    void *arg)
{
  listing_t *l = arg;
  cr_assert_eq(strlen(path), len);
  if (l->n < 8) {
    snprintf(l->paths[l->n], sizeof l->paths[0], "%s", path);
    l->sizes[l->n] = f->size;
  }
  l->blame_seen |= f->blame != NULL;
  l->n++;
  return 0;
}

Test(store_files, foreach_lists_one_repository_in_path_order)
{
  char *dir;
  store_t *s = open_tmp(&dir);
  store_file_t f = {.size = 1, .mtime_ns = 5};
  f.blame = json_pack("[]");
  put_file(s, "ab", "z.c", &f);
  f.size = 2;
  put_file(s, "ab", "a/b.c", &f);
  f.size = 3;
  put_file(s, "abc", "x.c", &f); /* a neighbour sharing the prefix "ab" */
  f.size = 4;
  put_file(s, "a", "y.c", &f);
  json_decref(f.blame);
  store_scan_state_t st = {.at = 1};
  store_txn_t *t = NULL;
  TST_OK(store_write_begin(s, &t));
  TST_OK(store_scan_state_put(t, "ab", &st));
  TST_OK(store_write_commit(t));

  listing_t l;
  memset(&l, 0, sizeof l);
  TST_OK(store_files_foreach(s, "ab", list_one, &l));
  cr_assert_eq(l.n, 2, "the state and other repositories are not listed");
  cr_assert_str_eq(l.paths[0], "a/b.c");
  cr_assert_eq(l.sizes[0], 2);
  cr_assert_str_eq(l.paths[1], "z.c");
  cr_assert_not(l.blame_seen, "foreach does not load the blame cache");

  store_files_reader_t *r = NULL;
  TST_OK(store_files_reader_open(s, "ab", &r));
  store_file_t g;
  TST_OK(store_files_reader_get(r, "z.c", &g));
  cr_assert_eq(g.size, 1);
  cr_assert_eq(g.mtime_ns, 5);
  cr_assert_eq(store_files_reader_get(r, "x.c", &g), STORE_ENOTFOUND);
  store_files_reader_close(r);
  close_tmp(s, dir);
}

Test(store_files, bad_keys_are_refused)
{
  char *dir;
  store_t *s = open_tmp(&dir);
  store_file_t f = {.size = 1};
  char longpath[600];
  memset(longpath, 'x', sizeof longpath - 1);
  longpath[sizeof longpath - 1] = '\0';
  store_txn_t *t = NULL;
  TST_OK(store_write_begin(s, &t));
  cr_assert_eq(store_file_put(t, "repo", "", &f), STORE_EINVAL);
  cr_assert_eq(store_file_put(t, "", "a.c", &f), STORE_EINVAL);
  cr_assert_eq(store_file_put(t, "repo", longpath, &f), STORE_EINVAL);
  store_write_abort(t);
  close_tmp(s, dir);
}

static int write_command(rt_runtime_t *rt, rt_actor_t *sa, json_t *args)
{
  proto_msg_t m = {.type = PROTO_COMMAND};
  store_ack_t ack;
  m.u.command.action = (char *)"scan_files";
  m.u.command.args = args;
  int rc = store_write_sync(rt, sa, &m, 10000, &ack);
  json_decref(args);
  return rc;
}

Test(store_files, the_store_actor_writes_scan_files_commands, .timeout = 60)
{
  char *dir;
  store_t *s = open_tmp(&dir);
  rt_runtime_t *rt = tst_runtime(2);
  rt_actor_t *sa = NULL;
  TST_OK(store_actor_spawn(rt, s, NULL, &sa));

  TST_OK(write_command(rt, sa, json_pack(
      "{s:s,s:[[s,i,I,I,i,s,[[i,s,i]]],[s,i,I,I,i,s,n]],s:[],s:{s:s,s:s,s:I}}",
      "repo", "r", "put", "a.c", 10, (json_int_t)111, (json_int_t)7, 0,
      "abc", 1, "Bo", 5, "b.c", 20, (json_int_t)222, (json_int_t)7,
      STORE_FILE_SKIPPED, "", "del", "state", "commit", "c1", "settings",
      "s1", "at", (json_int_t)7)));
  store_file_t f;
  TST_OK(store_file_get(s, "r", "a.c", &f));
  cr_assert_eq(f.size, 10);
  cr_assert_eq(f.mtime_ns, 111);
  cr_assert_eq(f.scanned_at, 7);
  cr_assert_str_eq(f.blob, "abc");
  cr_assert_eq(json_array_size(f.blame), 1);
  store_file_fini(&f);
  TST_OK(store_file_get(s, "r", "b.c", &f));
  cr_assert_eq(f.flags, STORE_FILE_SKIPPED);
  cr_assert_null(f.blame);
  store_scan_state_t st;
  TST_OK(store_scan_state_get(s, "r", &st));
  cr_assert_str_eq(st.commit, "c1");

  TST_OK(write_command(rt, sa, json_pack("{s:s,s:[s]}", "repo", "r", "del",
                                         "a.c")));
  cr_assert_eq(store_file_get(s, "r", "a.c", &f), STORE_ENOTFOUND);

  /* bad shapes are refused before any transaction */
  cr_assert_eq(write_command(rt, sa, json_pack("{s:[s]}", "del", "b.c")),
               STORE_EINVAL);
  cr_assert_eq(write_command(rt, sa, json_pack("{s:s,s:[[s]]}", "repo", "r",
                                               "put", "b.c")),
               STORE_EINVAL);
  TST_OK(store_file_get(s, "r", "b.c", &f));

  rt_actor_release(sa);
  tst_runtime_free(rt);
  close_tmp(s, dir);
}
