#include "frazil/iceberg/location.h"

#include <cctype>

namespace frazil::iceberg {
namespace {

std::string CollapseSlashes(std::string_view p) {
  std::string out;
  out.reserve(p.size());
  for (char c : p) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out.push_back(c);
  }
  return out;
}

bool IsSchemeChar(char c, bool first) {
  if (std::isalpha(static_cast<unsigned char>(c))) return true;
  return !first && (std::isdigit(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.');
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Result<ParsedLocation> ParseLocation(std::string_view location) {
  ParsedLocation out;
  if (location.starts_with("/")) {
    out.scheme = "file";
    out.path = CollapseSlashes(location);
    return out;
  }
  size_t colon = location.find(':');
  bool scheme_ok = colon != std::string_view::npos && colon > 0;
  for (size_t i = 0; scheme_ok && i < colon; ++i) scheme_ok = IsSchemeChar(location[i], i == 0);
  if (!scheme_ok)
    return Status::InvalidArgument("location '" + std::string(location) +
                                   "' is neither an absolute path nor a URI with a scheme");
  out.scheme = Lower(location.substr(0, colon));
  std::string_view rest = location.substr(colon + 1);
  size_t path_start = colon + 1;  // index in `location` where the path begins
  if (rest.starts_with("//")) {
    size_t slash = rest.find('/', 2);
    std::string_view authority =
        rest.substr(2, slash == std::string_view::npos ? std::string_view::npos : slash - 2);
    out.authority = std::string(authority);
    path_start = slash == std::string_view::npos ? location.size() : colon + 1 + slash;
  } else if (out.scheme != "file") {
    return Status::InvalidArgument("location '" + std::string(location) + "' has no authority (expected " +
                                   out.scheme + "://...)");
  }
  std::string_view path = location.substr(path_start);
  out.spelled_prefix = std::string(location.substr(0, path_start));
  if (out.local()) {
    // Hadoop writes `file:/p`; `file://localhost/p` names the same file.
    if (!out.authority.empty() && Lower(out.authority) != "localhost")
      return Status::InvalidArgument("file location '" + std::string(location) + "' names host '" +
                                     out.authority + "'; only local files are supported");
    if (!path.starts_with("/"))
      return Status::InvalidArgument("file location '" + std::string(location) + "' is not absolute");
    out.authority.clear();
    out.path = CollapseSlashes(path);
    return out;
  }
  if (out.authority.empty())
    return Status::InvalidArgument("location '" + std::string(location) + "' has an empty authority");
  if (path.starts_with("/")) path.remove_prefix(1);
  out.path = std::string(path);
  return out;
}

std::string CanonicalLocation(std::string_view location) {
  auto parsed = ParseLocation(location);
  if (!parsed.ok()) return std::string(location);
  if (parsed->local()) return "file://" + parsed->path;
  // Hadoop engines name the objects of s3://b/k as s3a://b/k (or the older
  // s3n://b/k); our FileIO reads all three as the same object, so they must
  // compare equal (or orphan removal would delete a live file).
  const std::string& scheme = parsed->scheme == "s3a" || parsed->scheme == "s3n" ? "s3" : parsed->scheme;
  return scheme + "://" + parsed->authority + "/" + parsed->path;
}

bool SameLocation(std::string_view a, std::string_view b) {
  return a == b || CanonicalLocation(a) == CanonicalLocation(b);
}

std::string JoinLocation(std::string_view base, std::string_view relative) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  while (!relative.empty() && relative.front() == '/') relative.remove_prefix(1);
  std::string out(base);
  out += '/';
  out += relative;
  return out;
}

bool LocationUnder(std::string_view location, std::string_view dir) {
  std::string d = CanonicalLocation(dir);
  while (d.ends_with("/") && !d.ends_with(":///")) d.pop_back();
  std::string l = CanonicalLocation(location);
  if (l == d) return true;
  if (!d.ends_with("/")) d += '/';
  return l.starts_with(d);
}

std::string ChecksumSidecar(std::string_view location) {
  size_t slash = location.rfind('/');
  size_t name = slash == std::string_view::npos ? 0 : slash + 1;
  return std::string(location.substr(0, name)) + "." + std::string(location.substr(name)) + ".crc";
}

std::optional<std::string> SidecarOwner(std::string_view location) {
  size_t slash = location.rfind('/');
  size_t name = slash == std::string_view::npos ? 0 : slash + 1;
  std::string_view base = location.substr(name);
  if (base.size() <= 5 || base.front() != '.' || !base.ends_with(".crc")) return std::nullopt;
  return std::string(location.substr(0, name)) + std::string(base.substr(1, base.size() - 5));
}

}  // namespace frazil::iceberg
