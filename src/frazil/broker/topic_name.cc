#include "frazil/broker/topic_name.h"

namespace frazil::broker {
namespace {

bool ValidPart(const std::string& s) {
  if (s.empty() || s.size() > 200) return false;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || c == '_' || c == '-')) return false;
  return true;
}

}  // namespace

Result<TopicName> ParseTopicName(const std::string& text) {
  auto bad = [&] {
    return Status::InvalidArgument("invalid topic name '" + text +
                                   "': expected /namespace/name with letters, digits, '_' and '-'");
  };
  if (text.size() < 4 || text[0] != '/') return bad();
  auto slash = text.find('/', 1);
  if (slash == std::string::npos) return bad();
  TopicName t{text.substr(1, slash - 1), text.substr(slash + 1)};
  if (!ValidPart(t.ns) || !ValidPart(t.name)) return bad();
  return t;
}

std::optional<std::string> TopicName::PartitionedParent() const {
  auto pos = name.rfind("-part-");
  if (pos == std::string::npos || pos == 0 || pos + 6 >= name.size()) return std::nullopt;
  for (size_t i = pos + 6; i < name.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(name[i]))) return std::nullopt;
  return "/" + ns + "/" + name.substr(0, pos);
}

std::string PartitionName(const std::string& topic, int partition) {
  return topic + "-part-" + std::to_string(partition);
}

}  // namespace frazil::broker
