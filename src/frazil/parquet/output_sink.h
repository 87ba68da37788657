// Where a Parquet file's bytes go: a local file now, object storage later.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "frazil/common/status.h"

namespace frazil::parquet {

class OutputSink {
 public:
  virtual ~OutputSink() = default;
  virtual Status Write(std::span<const uint8_t> data) = 0;
  virtual uint64_t Position() const = 0;
  // Makes the bytes durable (fsync for files) and closes.
  virtual Status Close() = 0;
};

// Creates `path`, which must not exist: data files are never overwritten.
// With `sync`, Close() fsyncs the file (what a table commit needs).
Result<std::unique_ptr<OutputSink>> OpenFileSink(const std::string& path, bool sync = true);

// Collects the bytes in memory (tests, fuzzing, small files).
class MemorySink final : public OutputSink {
 public:
  Status Write(std::span<const uint8_t> data) override {
    bytes_.insert(bytes_.end(), data.begin(), data.end());
    return Status::Ok();
  }
  uint64_t Position() const override { return bytes_.size(); }
  Status Close() override { return Status::Ok(); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace frazil::parquet
