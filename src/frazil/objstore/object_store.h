// Object storage as the table layer needs it: whole-object reads, ranged
// reads, create-if-absent writes that become visible all at once, deletes
// and prefix listings. Keys are '/'-separated; the local store maps them
// to paths, an S3 store to a bucket's keys.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "frazil/common/fs_util.h"
#include "frazil/common/status.h"

namespace frazil::objstore {

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  int64_t modified_ms = 0;
};

// A new object being written; nothing is visible until Commit().
class ObjectWriter {
 public:
  virtual ~ObjectWriter() = default;
  virtual Status Append(std::span<const uint8_t> data) = 0;
  virtual uint64_t Position() const = 0;
  // Makes the object durable and visible; AlreadyExists if another writer
  // created the key first (the existing object is kept).
  virtual Status Commit() = 0;
  // Commit will leave the durability of the object's name to the store's
  // SyncNames (a local directory's fsync, shared by the files written into
  // it together). Stores whose objects are durable once written ignore it.
  virtual void DeferNameSync() {}
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  virtual Result<std::vector<uint8_t>> Get(const std::string& key) = 0;
  virtual Result<std::vector<uint8_t>> GetRange(const std::string& key, uint64_t offset, uint64_t length) = 0;
  virtual Result<ObjectInfo> Head(const std::string& key) = 0;
  virtual Result<std::unique_ptr<ObjectWriter>> NewObject(const std::string& key) = 0;
  // Missing keys are not an error.
  virtual Status Delete(const std::string& key) = 0;
  // Deletes every key (missing ones are not an error); the first error is
  // returned after all were attempted.
  virtual Status DeleteMany(const std::vector<std::string>& keys);
  // Objects under `prefix`; with `include_hidden`, also those whose name
  // starts with '.' (for the local store: temporary files of writes in
  // flight, and sidecars other writers put there).
  virtual Result<std::vector<ObjectInfo>> List(const std::string& prefix, bool include_hidden) = 0;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix) { return List(prefix, false); }

  // Bytes a sequential reader should fetch per request (0: as asked);
  // see parquet::InputFile::read_ahead.
  virtual uint64_t read_ahead() const { return 0; }

  // Makes the names of objects committed with DeferNameSync durable (a
  // crash after it cannot lose them). Nothing to do for remote stores.
  virtual Status SyncNames(std::span<const std::string> /*keys*/) { return Status::Ok(); }

  // Convenience: a whole object in one call.
  Status PutIfAbsent(const std::string& key, std::span<const uint8_t> data,
                     fsutil::NameSync name_sync = fsutil::NameSync::kNow);
};

// Objects as files under the local filesystem; keys are absolute paths.
// Writes go to a hidden temporary file in the target directory, are
// fsynced, and are linked into place (link(2) fails if the name exists, so
// no object is ever replaced).
std::unique_ptr<ObjectStore> NewLocalObjectStore();

}  // namespace frazil::objstore
