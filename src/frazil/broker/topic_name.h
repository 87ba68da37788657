// Topic names: `/namespace/name`, each part of [A-Za-z0-9_-]; partition N
// of a partitioned topic `/ns/t` is the topic `/ns/t-part-N`.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "frazil/common/status.h"

namespace frazil::broker {

struct TopicName {
  std::string ns;
  std::string name;

  std::string ToString() const { return "/" + ns + "/" + name; }
  // The partitioned topic this is a partition of, if the name ends in -part-N.
  std::optional<std::string> PartitionedParent() const;
};

Result<TopicName> ParseTopicName(const std::string& text);
// A namespace name alone (`default`): the first part of a topic name.
Status CheckNamespaceName(const std::string& ns);
std::string PartitionName(const std::string& topic, int partition);

// Limits on the text clients send besides topic names (see
// docs/formats/danube-protocol.md, "Names and keys").
inline constexpr size_t kMaxNameBytes = 256;         // producer, consumer, subscription names
inline constexpr size_t kMaxKeyBytes = 1024;         // routing keys, key filters, attribute keys
inline constexpr size_t kMaxAttributeBytes = 65536;  // one attribute value

// Producer, consumer and subscription names, routing keys, key filters and
// attribute keys and values must be valid UTF-8 without NUL and at most
// `max_bytes` long: they are stored in SQLite and as Iceberg strings, and
// compared as text. InvalidArgument names `field` (never echoes the bytes).
Status CheckText(std::string_view field, std::string_view value, size_t max_bytes);

// `s` with bytes outside printable ASCII written as \xNN, cut at `max`
// bytes: for error messages that quote what a client sent.
std::string Printable(std::string_view s, size_t max = 120);

}  // namespace frazil::broker
