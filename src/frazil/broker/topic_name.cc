#include "frazil/broker/topic_name.h"

#include <cctype>
#include <cstdint>

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
    return Status::InvalidArgument("invalid topic name '" + Printable(text) +
                                   "': expected /namespace/name with letters, digits, '_' and '-'");
  };
  if (text.size() < 4 || text[0] != '/') return bad();
  auto slash = text.find('/', 1);
  if (slash == std::string::npos) return bad();
  TopicName t{text.substr(1, slash - 1), text.substr(slash + 1)};
  if (!ValidPart(t.ns) || !ValidPart(t.name)) return bad();
  return t;
}

Status CheckNamespaceName(const std::string& ns) {
  if (ValidPart(ns)) return Status::Ok();
  return Status::InvalidArgument("invalid namespace name '" + Printable(ns) +
                                 "': expected 1 to 200 letters, digits, '_' and '-'");
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

namespace {

// Length of the UTF-8 sequence starting at s[i], or 0 if it is not a valid
// one (overlong forms, surrogates and code points above U+10FFFF are not).
size_t Utf8Sequence(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = at(i);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2, cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3, cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4, cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((at(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (at(i + k) & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

}  // namespace

Status CheckText(std::string_view field, std::string_view value, size_t max_bytes) {
  if (value.size() > max_bytes)
    return Status::InvalidArgument(std::string(field) + " is " + std::to_string(value.size()) +
                                   " bytes, over the limit of " + std::to_string(max_bytes));
  for (size_t i = 0; i < value.size();) {
    if (value[i] == '\0')
      return Status::InvalidArgument(std::string(field) + " contains NUL (byte " + std::to_string(i) + ")");
    size_t n = Utf8Sequence(value, i);
    if (n == 0)
      return Status::InvalidArgument(std::string(field) + " is not valid UTF-8 (byte " + std::to_string(i) +
                                     ")");
    i += n;
  }
  return Status::Ok();
}

std::string Printable(std::string_view s, size_t max) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

}  // namespace frazil::broker
