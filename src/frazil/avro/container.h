// Avro object container files: header (magic, metadata map with the schema
// and codec, sync marker), then blocks of records each followed by the sync
// marker. Codecs: null and deflate (raw RFC 1951, as the spec says).
#pragma once

#include <map>
#include <span>
#include <string>
#include <vector>

#include "frazil/avro/datum.h"
#include "frazil/avro/schema.h"
#include "frazil/common/status.h"

namespace frazil::avro {

enum class Codec { kNull, kDeflate };

struct ContainerOptions {
  Codec codec = Codec::kDeflate;
  size_t block_bytes = 64 * 1024;               // a block is closed past this many encoded bytes
  std::map<std::string, std::string> metadata;  // extra header keys (Iceberg's schema, format-version, ...)
};

// Builds a whole container file in memory (manifests are small).
class ContainerWriter {
 public:
  ContainerWriter(SchemaPtr schema, ContainerOptions options);
  // `schema_json`: `schema` as JSON text, for the header. Writers of many
  // files with one schema (a manifest per commit) keep it rather than have
  // the schema serialized again for every file.
  ContainerWriter(SchemaPtr schema, std::string schema_json, ContainerOptions options);
  Status Append(const Datum& record);
  // The finished file.
  Result<std::vector<uint8_t>> Finish();

 private:
  Status FlushBlock();

  SchemaPtr schema_;
  ContainerOptions options_;
  std::vector<uint8_t> out_;
  std::vector<uint8_t> block_;
  int64_t block_count_ = 0;
  uint8_t sync_[16];
  bool finished_ = false;
};

struct ContainerFile {
  SchemaPtr schema;
  std::string schema_json;  // as written in the file, every attribute intact
  std::map<std::string, std::string> metadata;
  std::vector<Datum> records;
};

// Reads a whole container file; damage anywhere is a Corruption error.
Result<ContainerFile> ReadContainer(std::span<const uint8_t> data);

}  // namespace frazil::avro
