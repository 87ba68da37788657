#include "frazil/objstore/s3_uri.h"

namespace frazil::objstore {

namespace {

constexpr std::string_view kSchemes[] = {"s3", "s3a", "s3n"};

Status Bad(std::string_view uri, std::string_view why) {
  return Status::InvalidArgument("malformed S3 URI '" + std::string(uri) + "': " + std::string(why) +
                                 " (expected s3://bucket/key)");
}

bool BucketChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'; }
bool AlnumLower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

}  // namespace

bool IsS3Location(std::string_view location) {
  for (std::string_view s : kSchemes)
    if (location.size() > s.size() && location.starts_with(s) && location[s.size()] == ':') return true;
  return false;
}

Result<S3Uri> ParseS3Uri(std::string_view uri) {
  size_t colon = uri.find(':');
  if (colon == std::string_view::npos) return Bad(uri, "no scheme");
  std::string_view scheme = uri.substr(0, colon);
  bool known = false;
  for (std::string_view s : kSchemes) known = known || scheme == s;
  if (!known) return Bad(uri, "scheme must be s3, s3a or s3n");
  std::string_view rest = uri.substr(colon + 1);
  if (!rest.starts_with("//")) return Bad(uri, "scheme must be followed by '//'");
  rest.remove_prefix(2);
  size_t slash = rest.find('/');
  std::string_view bucket = rest.substr(0, slash);
  std::string_view key = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  if (bucket.empty()) return Bad(uri, "no bucket name");
  if (bucket.size() < 3 || bucket.size() > 63) return Bad(uri, "bucket name must be 3 to 63 characters");
  for (char c : bucket)
    if (!BucketChar(c))
      return Bad(uri, "bucket name may hold only lower-case letters, digits, '.' and '-' (found '" +
                          std::string(1, c) + "')");
  if (!AlnumLower(bucket.front()) || !AlnumLower(bucket.back()))
    return Bad(uri, "bucket name must start and end with a letter or digit");
  if (bucket.find("..") != std::string_view::npos) return Bad(uri, "bucket name has '..'");
  if (key.starts_with("/")) return Bad(uri, "key starts with '/' (double slash after the bucket)");
  if (key.find('?') != std::string_view::npos || key.find('#') != std::string_view::npos)
    return Bad(uri, "query strings and fragments are not allowed");
  return S3Uri{std::string(scheme), std::string(bucket), std::string(key)};
}

}  // namespace frazil::objstore
