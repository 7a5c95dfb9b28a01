/*
 * store_journal.c: the write-ahead journal that makes a durable commit
 * one flush instead of LMDB's two.
 *
 * LMDB's own durable commit writes the dirty pages, fdatasyncs, then
 * writes its meta page through an O_DSYNC descriptor: two ordered
 * flushes, because the meta page carries no checksum of what it points
 * to. Here LMDB runs with MDB_NOSYNC and every commit first appends what
 * the transaction wrote (its puts and deletes, copied as they happen:
 * store_int.h, store__put and friends) to a preallocated journal file
 * and fdatasyncs it: one flush, after which the write is acknowledged.
 * Every `every` commits (and for a big transaction, a full journal, or a
 * failed append) a checkpoint makes LMDB itself durable: mdb_env_sync,
 * then LMDB's two meta pages are saved in the journal's header slot
 * (two slots, alternating, each checksummed), which starts a new epoch:
 * the records of the older one are dead.
 *
 * What keeps the checkpoint's snapshot whole until the next one: a read
 * transaction pinned to it. LMDB never reuses a page a reader may see,
 * and without a sync the newer transactions' pages may be lost or torn
 * on power loss in any order, meta pages included; the checkpoint's
 * pages are never written again. The price: the file grows by the pages
 * of up to `every` commits until the pin moves.
 *
 * Recovery, when the last writer did not close the journal cleanly:
 *   - same boot (the boot id in the slot is this kernel's): only the
 *     process died; the page cache holds every page it wrote, so LMDB's
 *     file is whole as it is. A record after LMDB's last transaction was
 *     never committed, so never acknowledged: dropped. Checkpoint.
 *   - another boot: the system crashed. Before LMDB opens, the saved meta
 *     pages are written back over LMDB's (so it opens at the checkpoint,
 *     whose pages were pinned), then the records of the slot's epoch are
 *     applied in order, each as the transaction it was (its LMDB txn id
 *     must follow), stopping at the first that is torn (checksum), of an
 *     older epoch, or out of sequence. Checkpoint.
 * The slot also keeps a checksum of three pages of the checkpoint: the
 * main and free trees' roots (named by the saved meta page) and the leaf
 * holding the store's random id (meta "store_id", written once): the
 * meta pages are put back only when LMDB's file still has those pages
 * byte for byte, so a journal beside another store (a backup put back, a
 * copy from elsewhere) never writes into it; it is dropped instead.
 * Read-only openers (`ccm tasks`) do not recover: they refuse a store
 * that needs the second kind (STORE_ERECOVER) and read the first as it
 * is. A read-write opener holds an exclusive flock on the journal, so
 * two writing processes cannot interleave their commits (STORE_EBUSY).
 *
 * File layout (native byte order, like LMDB's own file):
 *   [0, 16K)   slot 0    [16K, 32K) slot 1: the newest valid one counts
 *     slot:   magic, crc32, version, page size, epoch, LMDB txn id of
 *             the checkpoint, clean flag, boot id, LMDB's pages 0 and 1
 *   [32K, size) records, each at a 4 KiB boundary (a torn write cannot
 *             touch an earlier record's sector):
 *     record: magic, crc32, epoch, txn id, payload length, op count,
 *             then the ops (journal_ops.h: kind, database name, key,
 *             value)
 * Database names rather than numbers, so a record means the same to any
 * build that has the database.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "store/store_int.h"

#define JOURNAL_FILE "ccm.journal"
#define SLOT_SIZE (16u << 10)
#define RECORDS_AT (2 * SLOT_SIZE)
#define RECORD_ALIGN 4096u
#define JOURNAL_MIN (1u << 20) /* written at creation; doubles when full */
#define JOURNAL_MAX (32u << 20)
/* Bigger records: a checkpoint instead (a record is written whole with one
 * flush; past a few MiB, syncing LMDB's own pages costs no more). With
 * 256 KiB, the committer of a stream of batched upserts (~500 a commit,
 * ~350 KiB of record) spent ~25% longer per commit: two flushes. */
#define BIG_RECORD (4u << 20)
#define DEFAULT_EVERY 256u
#define SLOT_MAGIC 0x4a4d4343u   /* "CCMJ" */
#define RECORD_MAGIC 0x524d4343u /* "CCMR" */
#define SLOT_VERSION 1u
#define BOOT_ID_MAX 48
#define SLOT_HEAD 96
#define RECORD_HEAD 32
#define LOCK_WAIT_MS 3000
#define KEY_STORE_ID "store_id"
#define STORE_ID_BYTES 16

typedef struct slot {
  uint32_t psize;
  uint64_t epoch, txnid;
  uint32_t clean;
  uint32_t roots_crc;
  uint64_t id_page;
  char boot_id[BOOT_ID_MAX];
  unsigned char *metas; /* 2 * psize bytes */
} slot_t;

struct store__journal {
  int fd;
  char path[4096], data_path[4096];
  pthread_mutex_t write_lock;
  bool live;           /* every commit goes through the journal */
  bool no_dsync;       /* the kernel has no RWF_DSYNC: fdatasync */
  uint64_t epoch;      /* of the newest slot */
  uint64_t next;       /* offset of the next record */
  uint64_t size;       /* of the file, all of it written */
  unsigned commits;    /* records since the checkpoint */
  unsigned every;
  size_t big;          /* records over this: a checkpoint instead */
  MDB_txn *pin;        /* the checkpoint's snapshot */
  char boot_id[BOOT_ID_MAX];
  void (*hook)(void *arg); /* tests: after each checkpoint */
  void *hook_arg;
  /* what opening found */
  bool found, found_clean, restored, foreign;
  uint64_t found_epoch, found_txnid;
};

/* ------------------------------------------------------------ plumbing */

static uint32_t crc_of(const unsigned char *p, size_t n)
{
  uLong c = crc32(0L, Z_NULL, 0);
  while (n) { /* zlib takes a uInt at a time */
    uInt part = n > (1u << 30) ? (1u << 30) : (uInt)n;
    c = crc32(c, p, part);
    p += part;
    n -= part;
  }
  return (uint32_t)c;
}

/* pread or pwrite all of @p n bytes at @p off (a short count is EIO). */
static int io_all(int fd, void *buf, size_t n, uint64_t off, bool write)
{
  unsigned char *p = buf;
  while (n) {
    ssize_t r = write ? pwrite(fd, p, n, (off_t)off)
                      : pread(fd, p, n, (off_t)off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return r < 0 ? -errno : -EIO;
    p += r;
    n -= (size_t)r;
    off += (uint64_t)r;
  }
  return 0;
}

static int pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
  return io_all(fd, (void *)buf, n, off, true);
}

static int pread_all(int fd, void *buf, size_t n, uint64_t off)
{
  return io_all(fd, buf, n, off, false);
}

static int sync_fd(int fd) { return fdatasync(fd) < 0 ? -errno : 0; }

static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const unsigned char *p)
{
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
static uint64_t get64(const unsigned char *p)
{
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

static void read_boot_id(const store_t *s, char out[BOOT_ID_MAX])
{
  memset(out, 0, BOOT_ID_MAX);
  if (s->opt.boot_id) {
    snprintf(out, BOOT_ID_MAX, "%s", s->opt.boot_id);
    return;
  }
  FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
  if (!f)
    return;
  if (fgets(out, BOOT_ID_MAX, f))
    out[strcspn(out, "\n")] = '\0';
  fclose(f);
}

static uint64_t last_txnid(store_t *s)
{
  MDB_envinfo info;
  return mdb_env_info(s->env, &info) ? 0 : (uint64_t)info.me_last_txnid;
}

/* --------------------------------------------------------------- slots */

/* Parse the slot at @p off; false when it is not a valid one. */
static bool slot_read(int fd, uint64_t off, slot_t *out)
{
  unsigned char head[SLOT_HEAD];
  if (pread_all(fd, head, sizeof(head), off) || get32(head) != SLOT_MAGIC ||
      get32(head + 8) != SLOT_VERSION)
    return false;
  uint32_t psize = get32(head + 12);
  if (psize < 512 || SLOT_HEAD + 2 * (size_t)psize > SLOT_SIZE)
    return false;
  size_t n = SLOT_HEAD + 2 * (size_t)psize;
  unsigned char *all = malloc(n);
  if (!all || pread_all(fd, all, n, off) ||
      crc_of(all + 8, n - 8) != get32(all + 4)) {
    free(all);
    return false;
  }
  out->psize = psize;
  out->epoch = get64(all + 16);
  out->txnid = get64(all + 24);
  out->clean = get32(all + 32);
  out->roots_crc = get32(all + 36);
  out->id_page = get64(all + 88);
  memcpy(out->boot_id, all + 40, BOOT_ID_MAX);
  out->boot_id[BOOT_ID_MAX - 1] = '\0';
  memmove(all, all + SLOT_HEAD, 2 * (size_t)psize);
  out->metas = all;
  return true;
}

/* The newest valid slot (false: none). */
static bool slot_newest(int fd, slot_t *out)
{
  slot_t a = {0}, b = {0};
  bool ha = slot_read(fd, 0, &a), hb = slot_read(fd, SLOT_SIZE, &b);
  if (ha && hb) {
    if (a.epoch >= b.epoch) {
      free(b.metas);
      *out = a;
    } else {
      free(a.metas);
      *out = b;
    }
    return true;
  }
  if (ha || hb)
    *out = ha ? a : b;
  return ha || hb;
}

/* Write the slot of a checkpoint at LMDB txn @p txnid with @p metas. */
static int slot_write(store__journal_t *j, uint64_t epoch, uint64_t txnid,
                      bool clean, const unsigned char *metas, uint32_t psize,
                      uint64_t id_page, uint32_t roots_crc)
{
  size_t n = SLOT_HEAD + 2 * (size_t)psize;
  unsigned char *all = calloc(1, n);
  if (!all)
    return STORE_ENOMEM;
  put32(all, SLOT_MAGIC);
  put32(all + 8, SLOT_VERSION);
  put32(all + 12, psize);
  put64(all + 16, epoch);
  put64(all + 24, txnid);
  put32(all + 32, clean ? 1 : 0);
  put32(all + 36, roots_crc);
  put64(all + 88, id_page);
  memcpy(all + 40, j->boot_id, BOOT_ID_MAX);
  memcpy(all + SLOT_HEAD, metas, 2 * (size_t)psize);
  put32(all + 4, crc_of(all + 8, n - 8));
  int rc = pwrite_all(j->fd, all, n, (epoch & 1) * SLOT_SIZE);
  free(all);
  return rc ? rc : sync_fd(j->fd);
}

/* ------------------------------------------------------- root pages */

/* LMDB 0.9's meta page (its file format): a 16-byte page header, then
 * MDB_meta: magic(4) version(4) address(8) mapsize(8), the free and main
 * trees' MDB_db (48 bytes each, md_root at +40), last_pg(8), txnid(8). */
#define META_FREE_ROOT (16 + 24 + 40)
#define META_MAIN_ROOT (16 + 24 + 48 + 40)
#define META_TXNID (16 + 24 + 96 + 8)
#define NO_PAGE (~(uint64_t)0)

/* The newer of the two meta pages in @p metas. */
static const unsigned char *newer_meta(const unsigned char *metas,
                                       uint32_t psize)
{
  const unsigned char *b = metas + psize;
  return get64(b + META_TXNID) > get64(metas + META_TXNID) ? b : metas;
}

/* Checksum of the pages the newer meta page names as the free and main
 * roots and of page @p id_page, as LMDB's file @p fd holds them now.
 * @return false when one of them cannot be read. */
static bool roots_crc(int fd, const unsigned char *metas, uint32_t psize,
                      uint64_t id_page, uint32_t *out)
{
  const unsigned char *m = newer_meta(metas, psize);
  uint64_t roots[3] = {get64(m + META_FREE_ROOT), get64(m + META_MAIN_ROOT),
                       id_page};
  unsigned char *page = malloc(psize);
  uLong c = crc32(0L, Z_NULL, 0);
  for (int i = 0; page && i < 3; i++) {
    if (roots[i] == NO_PAGE)
      continue;
    if (roots[i] > UINT64_MAX / psize ||
        pread_all(fd, page, psize, roots[i] * psize)) {
      free(page);
      return false;
    }
    c = crc32(c, page, psize);
  }
  free(page);
  *out = (uint32_t)c;
  return page != NULL;
}

/* LMDB 0.9's leaf page: header pgno(8) pad(2) flags(2) lower(2)
 * upper(2), then 2-byte node offsets; a node: data size lo(2) hi(2),
 * flags(2), key size(2), key, data (a named database's MDB_db). */
#define PAGE_HEAD 16
#define P_LEAF 0x02
#define NODE_HEAD 8

/* The root page of the meta database (the leaf with the store's id) in
 * the snapshot of @p metas, read from our own file @p fd at a checkpoint;
 * NO_PAGE when it cannot be found (the main tree is not one leaf). */
static uint64_t meta_root(int fd, const unsigned char *metas, uint32_t psize)
{
  uint64_t main_root = get64(newer_meta(metas, psize) + META_MAIN_ROOT);
  unsigned char *p = malloc(psize);
  uint64_t found = NO_PAGE;
  const char *name = store__db_name(DB_META);
  size_t nlen = strlen(name);
  uint16_t flags, lower, off, ksize;
  if (!p || main_root == NO_PAGE || main_root > UINT64_MAX / psize ||
      pread_all(fd, p, psize, main_root * psize))
    goto out;
  memcpy(&flags, p + 10, 2);
  memcpy(&lower, p + 12, 2);
  if (!(flags & P_LEAF) || lower < PAGE_HEAD || lower > psize)
    goto out;
  for (unsigned i = 0; i < (lower - PAGE_HEAD) / 2u; i++) {
    memcpy(&off, p + PAGE_HEAD + 2 * i, 2);
    if ((size_t)off + NODE_HEAD > psize)
      break;
    memcpy(&ksize, p + off + 6, 2);
    if (ksize != nlen || (size_t)off + NODE_HEAD + ksize + 48 > psize ||
        memcmp(p + off + NODE_HEAD, name, nlen))
      continue;
    found = get64(p + off + NODE_HEAD + ksize + 40); /* md_root */
    break;
  }
out:
  free(p);
  return found;
}

/* Whether the store has its id yet. */
static bool has_store_id(store_t *s)
{
  MDB_txn *txn;
  MDB_val k = store__str_val(KEY_STORE_ID), v;
  if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
    return false;
  bool has = !mdb_get(txn, s->dbi[DB_META], &k, &v) &&
             v.mv_size == STORE_ID_BYTES;
  mdb_txn_abort(txn);
  return has;
}

/* Give the store its random id if it has none (new, or from before the
 * journal); the next checkpoint makes it durable. */
static int ensure_store_id(store_t *s)
{
  if (has_store_id(s))
    return 0;
  unsigned char id[STORE_ID_BYTES];
  if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id))
    return -EIO;
  MDB_txn *txn;
  MDB_val k = store__str_val(KEY_STORE_ID), v = store__val(id, sizeof(id));
  int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
  if (rc)
    return rc;
  rc = mdb_put(txn, s->dbi[DB_META], &k, &v, 0);
  if (rc) {
    mdb_txn_abort(txn);
    return rc;
  }
  return mdb_txn_commit(txn);
}

/* ---------------------------------------------------------- checkpoint */

/* Make LMDB durable as it is (unless @p synced: a clean close left it so
 * and nothing was committed since), save its meta pages in a new slot,
 * and move the pin there. The caller holds the writer lock (or is
 * opening). */
static int checkpoint_as(store_t *s, bool clean, bool synced)
{
  store__journal_t *j = s->journal;
  MDB_stat st;
  int fd;
  int rc = synced ? 0 : mdb_env_sync(s->env, 1);
  if (!rc)
    rc = mdb_env_stat(s->env, &st);
  if (!rc)
    rc = mdb_env_get_fd(s->env, &fd);
  if (rc)
    return rc;
  unsigned char *metas = malloc(2 * (size_t)st.ms_psize);
  if (!metas)
    return STORE_ENOMEM;
  uint64_t txnid = last_txnid(s), id_page = NO_PAGE;
  uint32_t crc = 0;
  rc = pread_all(fd, metas, 2 * (size_t)st.ms_psize, 0);
  if (!rc) {
    id_page = meta_root(fd, metas, st.ms_psize);
    roots_crc(fd, metas, st.ms_psize, id_page, &crc);
    rc = slot_write(j, j->epoch + 1, txnid, clean, metas, st.ms_psize,
                    id_page, crc);
  }
  free(metas);
  if (rc)
    return rc;
  if (j->hook)
    j->hook(j->hook_arg);
  j->epoch++;
  j->next = RECORDS_AT;
  j->commits = 0;
  if (j->pin) {
    store__direct_pin_moving(s);
    mdb_txn_reset(j->pin);
    rc = mdb_txn_renew(j->pin);
    if (rc) {
      mdb_txn_abort(j->pin);
      j->pin = NULL;
      store__direct_off(s);
    } else {
      store__direct_pin_moved(s);
    }
  }
  return rc;
}

static int checkpoint(store_t *s, bool clean)
{
  return checkpoint_as(s, clean, false);
}

/* --------------------------------------------------------------- open */

static int journal_path(const char *dir, char *out, size_t n)
{
  return snprintf(out, n, "%s/%s", dir, JOURNAL_FILE) >= (int)n
             ? STORE_EINVAL
             : 0;
}

/* A read-only open: refuse a store a system crash left behind. */
static int check_read_only(store_t *s, const char *path, char *err,
                           size_t errlen)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0; /* no journal: LMDB's own commits, or a new store */
  slot_t sl;
  int rc = 0;
  if (slot_newest(fd, &sl)) {
    char boot[BOOT_ID_MAX];
    read_boot_id(s, boot);
    if (!sl.clean && strcmp(sl.boot_id, boot) != 0) {
      rc = STORE_ERECOVER;
      snprintf(err, errlen, "%s: the store was in use when the system went "
               "down; open it read-write once to recover it (ccm serve)",
               path);
    }
    free(sl.metas);
  }
  close(fd);
  return rc;
}

/* Fill the journal file to its size with zeros (written, not merely
 * allocated: overwriting written blocks needs no metadata flush). */
static int preallocate(int fd, uint64_t have, uint64_t want)
{
  static const unsigned char zeros[64 << 10];
  for (uint64_t off = have; off < want;) {
    size_t n = want - off < sizeof(zeros) ? want - off : sizeof(zeros);
    int rc = pwrite_all(fd, zeros, n, off);
    if (rc)
      return rc;
    off += n;
  }
  return fsync(fd) < 0 ? -errno : 0;
}

/* Put the checkpoint's meta pages back into LMDB's file (after a system
 * crash, before LMDB opens it). */
static int restore_metas(store__journal_t *j, const slot_t *sl, char *err,
                         size_t errlen)
{
  int fd = open(j->data_path, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : -errno; /* no store: nothing to restore */
  struct stat st;
  uint32_t crc = 0;
  int rc = fstat(fd, &st) < 0 ? -errno : 0;
  if (!rc && ((uint64_t)st.st_size < 2 * (uint64_t)sl->psize ||
              !roots_crc(fd, sl->metas, sl->psize, sl->id_page, &crc) ||
              crc != sl->roots_crc)) {
    close(fd); /* not the store this journal was written for */
    j->foreign = true;
    return 0;
  }
  if (!rc)
    rc = pwrite_all(fd, sl->metas, 2 * (size_t)sl->psize, 0);
  if (!rc)
    rc = sync_fd(fd);
  close(fd);
  if (rc)
    snprintf(err, errlen, "%s: cannot restore the last checkpoint (%s)",
             j->data_path, store_strerror(rc));
  else
    j->restored = true;
  return rc;
}

/* The process holding the flock of @p fd's file, from /proc/locks
 * ("N: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE ..."); 0 if not found. */
static long lock_holder(int fd)
{
  struct stat st;
  FILE *f = fstat(fd, &st) == 0 ? fopen("/proc/locks", "re") : NULL;
  char line[256], kind[16];
  long pid = 0, found = 0;
  unsigned long long ino;
  while (f && !found && fgets(line, sizeof line, f))
    if (sscanf(line, "%*d: %15s %*s %*s %ld %*x:%*x:%llu", kind, &pid,
               &ino) == 3 &&
        !strcmp(kind, "FLOCK") && ino == (unsigned long long)st.st_ino)
      found = pid;
  if (f)
    fclose(f);
  return found;
}

/* flock(LOCK_EX), waiting at most @p ms for a holder to let go: a writer
 * started right after the last one was killed can find the lock still
 * held for a moment (seen in the e2e kill -9 tests: released a few ms
 * later, its holder already gone from /proc/locks). */
static int lock_within(int fd, int ms)
{
  const struct timespec step = {.tv_nsec = 10 * 1000 * 1000};
  for (int waited = 0;; waited += 10) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
      return 0;
    if (errno == EINTR)
      continue;
    if (errno != EWOULDBLOCK || waited >= ms)
      return -1;
    nanosleep(&step, NULL);
  }
}

/* Open the journal (creating it if @p create) and lock it for this
 * writer. A missing journal without @p create is 0 with no file. */
static int take_file(store__journal_t *j, bool create, char *err,
                     size_t errlen)
{
  j->fd = open(j->path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0640);
  if (j->fd < 0) {
    int rc = -errno;
    if (rc == -ENOENT && !create)
      return 0;
    snprintf(err, errlen, "%s: %s", j->path, strerror(errno));
    return rc;
  }
  if (lock_within(j->fd, LOCK_WAIT_MS) < 0) {
    int rc = errno == EWOULDBLOCK ? STORE_EBUSY : -errno;
    if (rc == STORE_EBUSY)
      snprintf(err, errlen, "%s: the store is open for writing by another "
               "process (pid %ld: another ccm serve or scan?)", j->path,
               lock_holder(j->fd));
    else
      snprintf(err, errlen, "%s: %s", j->path, strerror(errno));
    return rc;
  }
  struct stat st;
  int rc = fstat(j->fd, &st) < 0 ? -errno : 0;
  if (rc)
    return rc;
  j->size = (uint64_t)st.st_size;
  if (j->size < JOURNAL_MIN) {
    rc = preallocate(j->fd, j->size, JOURNAL_MIN);
    j->size = JOURNAL_MIN;
  }
  return rc;
}

static store__journal_t *journal_new(store_t *s)
{
  store__journal_t *j = calloc(1, sizeof(*j));
  if (!j)
    return NULL;
  if (pthread_mutex_init(&j->write_lock, NULL) != 0) {
    free(j);
    return NULL;
  }
  j->fd = -1;
  j->every = s->opt.journal_every ? s->opt.journal_every : DEFAULT_EVERY;
  j->big = s->opt.journal_big ? s->opt.journal_big : BIG_RECORD;
  j->hook = s->opt.checkpoint_hook;
  j->hook_arg = s->opt.checkpoint_hook_arg;
  read_boot_id(s, j->boot_id);
  return j;
}

int store__journal_open(store_t *s, const char *dir, char *err,
                        size_t errlen)
{
  char path[4096];
  if (s->opt.no_sync || s->opt.no_journal)
    return 0;
  if (journal_path(dir, path, sizeof(path)))
    return STORE_EINVAL;
  if (s->opt.read_only)
    return check_read_only(s, path, err, errlen);
  store__journal_t *j = journal_new(s);
  if (!j)
    return STORE_ENOMEM;
  s->journal = j;
  snprintf(j->path, sizeof(j->path), "%s", path);
  if (!j->boot_id[0] || snprintf(j->data_path, sizeof(j->data_path), "%s/%s",
                                 dir, STORE_FILE) >= (int)sizeof(j->data_path))
    return STORE_EINVAL;
  int rc = take_file(j, false, err, errlen);
  slot_t sl;
  if (!rc && j->fd >= 0 && slot_newest(j->fd, &sl)) {
    j->found = true;
    j->found_clean = sl.clean != 0;
    j->found_epoch = sl.epoch;
    j->found_txnid = sl.txnid;
    j->epoch = sl.epoch;
    if (!sl.clean && strcmp(sl.boot_id, j->boot_id) != 0)
      rc = restore_metas(j, &sl, err, errlen);
    free(sl.metas);
  }
  return rc;
}

/* ------------------------------------------------------------- replay */

/* Apply one op of a record being replayed, in its transaction. */
static int replay_op(void *arg, const journal_op_t *op)
{
  MDB_txn *txn = arg;
  MDB_dbi dbi;
  MDB_val k = store__val(op->key, op->klen);
  MDB_val v = store__val(op->val, op->vlen);
  int rc = mdb_dbi_open(txn, op->name, MDB_CREATE, &dbi);
  if (rc)
    return rc;
  return op->kind == JOURNAL_OP_PUT ? mdb_put(txn, dbi, &k, &v, 0)
                                    : mdb_del(txn, dbi, &k, NULL);
}

/* Apply one record's ops in a write transaction. */
static int replay_ops(store_t *s, const unsigned char *p, size_t len,
                      uint32_t nops)
{
  MDB_txn *txn;
  int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
  if (rc)
    return rc;
  rc = journal_ops_parse(p, len, nops, replay_op, txn);
  if (rc) {
    mdb_txn_abort(txn);
    return rc == -1 ? STORE_ECORRUPT : rc;
  }
  return mdb_txn_commit(txn);
}

/* Read the record at @p off into *buf (grown as needed); its txn id in
 * *txnid. @return its aligned size, or 0 when there is no valid record of
 * @p epoch there. */
static uint64_t record_read(int fd, uint64_t off, uint64_t epoch,
                            unsigned char **buf, size_t *cap, uint64_t *txnid)
{
  unsigned char head[RECORD_HEAD];
  if (off + RECORD_HEAD > JOURNAL_MAX ||
      pread_all(fd, head, RECORD_HEAD, off) || get32(head) != RECORD_MAGIC ||
      get64(head + 8) != epoch)
    return 0;
  uint64_t len = get32(head + 24);
  if (off + RECORD_HEAD + len > JOURNAL_MAX)
    return 0;
  if (*cap < RECORD_HEAD + len) {
    unsigned char *nb = realloc(*buf, RECORD_HEAD + len);
    if (!nb)
      return 0;
    *buf = nb;
    *cap = RECORD_HEAD + len;
  }
  if (pread_all(fd, *buf, RECORD_HEAD + len, off) ||
      crc_of(*buf + 8, RECORD_HEAD - 8 + len) != get32(*buf + 4))
    return 0;
  *txnid = get64(*buf + 16);
  uint64_t n = RECORD_HEAD + len;
  return (n + RECORD_ALIGN - 1) / RECORD_ALIGN * RECORD_ALIGN;
}

/* Apply the records of the found epoch that follow LMDB's last txn. */
static int replay(store_t *s, unsigned *applied, char *err, size_t errlen)
{
  store__journal_t *j = s->journal;
  unsigned char *buf = NULL;
  size_t cap = 0;
  uint64_t txnid, step, last = last_txnid(s);
  int rc = 0;
  *applied = 0;
  for (uint64_t off = RECORDS_AT;
       (step = record_read(j->fd, off, j->found_epoch, &buf, &cap, &txnid));
       off += step) {
    if (txnid <= last)
      continue;
    if (txnid != last + 1)
      break; /* out of sequence: nothing after it was committed */
    rc = replay_ops(s, buf + RECORD_HEAD, get32(buf + 24), get32(buf + 28));
    if (rc) {
      snprintf(err, errlen, "%s: journal record of transaction %llu does not "
               "apply: %s", j->data_path, (unsigned long long)txnid,
               store_strerror(rc));
      break;
    }
    last = last_txnid(s);
    (*applied)++;
  }
  free(buf);
  return rc;
}

int store__journal_recover(store_t *s, char *err, size_t errlen)
{
  store__journal_t *j = s->journal;
  if (!j)
    return 0;
  int rc = j->fd < 0 ? take_file(j, true, err, errlen) : 0;
  if (!rc)
    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &j->pin);
  if (rc) {
    j->pin = NULL;
    return rc;
  }
  s->recovery.dropped_foreign = j->foreign;
  if (!j->found || j->found_clean)
    return 0;
  s->recovery.unclean = true;
  if (j->restored && last_txnid(s) != j->found_txnid) {
    snprintf(err, errlen, "%s: its journal's checkpoint (transaction %llu) "
             "is not the store's (%llu); refusing to replay it",
             j->data_path, (unsigned long long)j->found_txnid,
             (unsigned long long)last_txnid(s));
    return STORE_ECORRUPT;
  }
  unsigned applied = 0;
  if (j->restored)
    rc = replay(s, &applied, err, errlen);
  s->recovery.replayed = applied;
  s->recovery.restored = j->restored;
  return rc ? rc : checkpoint(s, false);
}

int store__journal_start(store_t *s)
{
  store__journal_t *j = s->journal;
  if (!j)
    return 0;
  int rc = ensure_store_id(s);
  /* Closed cleanly and untouched since: its file is as that close synced
   * it (a freshly copied store costs its copier's sync, not ours). */
  bool synced = j->found && j->found_clean && last_txnid(s) == j->found_txnid;
  if (!rc)
    rc = checkpoint_as(s, false, synced);
  if (!rc)
    j->live = true;
  if (!rc && j->pin) /* pages seen from now on stay put until it moves */
    atomic_store_explicit(&s->direct_epoch, 2, memory_order_release);
  return rc;
}

void store__journal_close(store_t *s)
{
  store__journal_t *j = s->journal;
  if (!j)
    return;
  store__direct_off(s);
  if (j->live) {
    pthread_mutex_lock(&j->write_lock);
    (void)checkpoint(s, true); /* failing, it stays unclean: recovered */
    j->live = false;
    pthread_mutex_unlock(&j->write_lock);
  }
  if (j->pin)
    mdb_txn_abort(j->pin);
  if (j->fd >= 0)
    close(j->fd);
  pthread_mutex_destroy(&j->write_lock);
  free(j);
  s->journal = NULL;
}

/* ------------------------------------------------------------ commits */

bool store__journal_lock(store_t *s)
{
  store__journal_t *j = s->journal;
  if (!j || !j->live)
    return false;
  pthread_mutex_lock(&j->write_lock);
  return true;
}

void store__journal_unlock(store_t *s)
{
  pthread_mutex_unlock(&s->journal->write_lock);
}

static bool jbuf_reserve(store_txn_t *t, size_t more)
{
  if (t->jlen + more <= t->jcap)
    return true;
  size_t cap = t->jcap ? t->jcap : 4096;
  while (cap < t->jlen + more)
    cap *= 2;
  unsigned char *nb = realloc(t->jbuf, cap);
  if (!nb)
    return false;
  t->jbuf = nb;
  t->jcap = cap;
  return true;
}

void store__journal_note(store_txn_t *t, int op, enum store__db db,
                         const MDB_val *k, const MDB_val *v)
{
  const char *name = store__db_name(db);
  size_t nlen = strlen(name), vlen = v ? v->mv_size : 0;
  size_t n = journal_op_size(nlen, k->mv_size, vlen);
  if (t->jfail)
    return;
  if (!t->jlen)
    t->jlen = RECORD_HEAD; /* room for the head, filled at commit */
  if (!n || !jbuf_reserve(t, n)) {
    t->jfail = true; /* committed with a checkpoint instead */
    return;
  }
  journal_op_encode(t->jbuf + t->jlen, op, name, nlen, k->mv_data,
                    k->mv_size, v ? v->mv_data : NULL, vlen);
  t->jlen += n;
  t->jnops++;
}

/* Write and flush in one call (RWF_DSYNC: the write returns once its
 * data is durable, as with fdatasync), or write then fdatasync where the
 * kernel lacks it. */
static int write_durably(store__journal_t *j, void *buf, size_t n,
                         uint64_t off)
{
  if (!j->no_dsync) {
    struct iovec iov = {.iov_base = buf, .iov_len = n};
    ssize_t w = pwritev2(j->fd, &iov, 1, (off_t)off, RWF_DSYNC);
    if (w == (ssize_t)n)
      return 0;
    if (w >= 0 || (errno != EOPNOTSUPP && errno != ENOSYS &&
                   errno != EINVAL))
      return w < 0 ? -errno : -EIO; /* short: the caller checkpoints */
    j->no_dsync = true;
  }
  int rc = pwrite_all(j->fd, buf, n, off);
  return rc ? rc : sync_fd(j->fd);
}

/* Append @p t's record and flush it. */
static int append(store__journal_t *j, store_txn_t *t, uint64_t txnid,
                  uint64_t aligned)
{
  unsigned char *h = t->jbuf;
  put32(h, RECORD_MAGIC);
  put64(h + 8, j->epoch);
  put64(h + 16, txnid);
  put32(h + 24, (uint32_t)(t->jlen - RECORD_HEAD));
  put32(h + 28, t->jnops);
  put32(h + 4, crc_of(h + 8, t->jlen - 8));
  int rc = write_durably(j, h, t->jlen, j->next);
  if (!rc) {
    j->next += aligned;
    j->commits++;
  }
  return rc;
}

/* Commit, then make it durable with a checkpoint. */
static int commit_and_checkpoint(store_txn_t *t)
{
  int rc = mdb_txn_commit(t->txn);
  return rc ? rc : checkpoint(t->s, false);
}

int store__journal_commit(store_txn_t *t)
{
  store_t *s = t->s;
  store__journal_t *j = s->journal;
  uint64_t txnid = mdb_txn_id(t->txn);
  if (!t->jnops) {
    int rc = mdb_txn_commit(t->txn);
    /* Nothing noted, yet something changed: make it durable anyway. */
    return !rc && last_txnid(s) == txnid ? checkpoint(s, false) : rc;
  }
  uint64_t aligned =
      (t->jlen + RECORD_ALIGN - 1) / RECORD_ALIGN * RECORD_ALIGN;
  if (j->next + aligned > j->size) { /* full: checkpoint, then grow it */
    int rc = commit_and_checkpoint(t);
    if (!rc && j->size < JOURNAL_MAX &&
        preallocate(j->fd, j->size, 2 * j->size) == 0)
      j->size *= 2; /* (failing, it stays as it was) */
    return rc;
  }
  if (t->jfail || t->jlen - RECORD_HEAD > j->big ||
      j->commits + 1 >= j->every)
    return commit_and_checkpoint(t);
  if (append(j, t, txnid, aligned) != 0)
    return commit_and_checkpoint(t); /* the journal failed: LMDB's sync */
  int rc = mdb_txn_commit(t->txn);
  if (rc)
    (void)checkpoint(s, false); /* a new epoch: the record is dead */
  return rc;
}
