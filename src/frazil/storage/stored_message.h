// The stored record: how one message is kept in a topic's WAL, independent
// of the Danube protocol (docs/formats/stored-record.md). Decoded once when
// read; dispatch, KeyShared routing, the table writer and the RPC layer all
// use the decoded form. Records written before this format (a serialized
// danube::StreamMessage) are still read.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "frazil/common/status.h"

namespace frazil::storage {

struct StoredMessage {
  uint64_t producer_id = 0;
  int64_t publish_time_ms = 0;  // milliseconds since the epoch
  std::string producer_name;
  std::optional<std::string> routing_key;
  // Unique keys, sorted by key.
  std::vector<std::pair<std::string, std::string>> attributes;
  std::string payload;
  std::optional<uint64_t> schema_id;
  std::optional<uint32_t> schema_version;

  // Bytes held in memory (for prefetch and window accounting).
  size_t MemoryBytes() const;
};

// Encodes in the current format.
std::vector<uint8_t> EncodeStoredMessage(const StoredMessage& m);
// Decodes either format; Corruption names what is wrong.
Result<StoredMessage> DecodeStoredMessage(std::span<const uint8_t> record);

}  // namespace frazil::storage
