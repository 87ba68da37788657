// Random-access input for the Parquet reader: a local file, an object in
// an object store, or bytes in memory.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "frazil/common/status.h"

namespace frazil::parquet {

class InputFile {
 public:
  virtual ~InputFile() = default;
  virtual uint64_t Size() const = 0;
  // Reads exactly out.size() bytes at `offset`; a short file is an error.
  virtual Status ReadAt(uint64_t offset, std::span<uint8_t> out) = 0;
  virtual const std::string& name() const = 0;
  // Bytes a sequential reader should fetch at once, 0 for "as asked".
  // Each read of a remote object costs a round trip of tens of
  // milliseconds, so readers of such files fetch a large block and serve
  // the small reads (page headers, pages) from it.
  virtual uint64_t read_ahead() const { return 0; }
};

Result<std::unique_ptr<InputFile>> OpenInputFile(const std::string& path);

class MemoryInputFile final : public InputFile {
 public:
  explicit MemoryInputFile(std::vector<uint8_t> bytes, std::string name = "<memory>")
      : bytes_(std::move(bytes)), name_(std::move(name)) {}
  uint64_t Size() const override { return bytes_.size(); }
  Status ReadAt(uint64_t offset, std::span<uint8_t> out) override;
  const std::string& name() const override { return name_; }

 private:
  std::vector<uint8_t> bytes_;
  std::string name_;
};

}  // namespace frazil::parquet
