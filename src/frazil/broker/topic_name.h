// Topic names: `/namespace/name`, each part of [A-Za-z0-9_-]; partition N
// of a partitioned topic `/ns/t` is the topic `/ns/t-part-N`.
#pragma once

#include <optional>
#include <string>

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
std::string PartitionName(const std::string& topic, int partition);

}  // namespace frazil::broker
