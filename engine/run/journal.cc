#include "engine/run/journal.h"

namespace ctflow {

StoreJournal::StoreJournal(RunStore& store)
    : store_(store), dir_(std::filesystem::absolute(store.dir())), blobs_(dir_ / "blobs") {}

Status StoreJournal::transaction(const std::function<void()>& writes) {
  RunStore::Transaction tx(store_);
  writes();
  return tx.commit();
}

}  // namespace ctflow
