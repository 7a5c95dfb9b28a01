/*
 * store_info.c: a cheap "has the store changed?" counter.
 *
 * store_last_txnid() answers the id of the snapshot a read transaction
 * begun now would see: the last write transaction committed by any
 * process. Every commit raises it, so "the id is the same as before"
 * means "nothing was written since" and a reader may keep what it derived
 * from the store (web/rest.c caches encoded task pages by it). It is
 * conservative: a commit that touched no task (an event appended to the
 * log) raises it too.
 *
 * Why a (pooled, renewed) read transaction and not mdb_env_info(): LMDB
 * writes the new meta page before it publishes the id to readers
 * (mti_txnid), so for a moment mdb_env_info's me_last_txnid is one ahead
 * of what a new reader sees; data read then and filed under that id would
 * be stale under it until the next write. mdb_txn_id() of a reader is the
 * id its data comes from. Renewing a pooled reset transaction takes no
 * allocation and no reader-table lock (store.c: read_txn_take).
 */
#include "store/store_int.h"

uint64_t store_last_txnid(store_t *s)
{
  MDB_txn *txn;
  if (!s || store__read_begin(s, &txn) != 0)
    return 0;
  uint64_t id = (uint64_t)mdb_txn_id(txn);
  store__read_end(s, txn);
  return id;
}
