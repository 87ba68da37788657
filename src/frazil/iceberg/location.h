// File locations as Iceberg metadata holds them. Engines spell the same
// local file several ways: Java's Hadoop FileIO writes `file:/p`, PyIceberg
// and Frazil `file:///p`, some tools `file://localhost/p` or a bare `/p`.
// Everything that resolves a location or compares two of them goes through
// here, so `file:/x` and `file:///x` are always the same file (orphan
// removal must never take one for an orphan of the other).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "frazil/common/status.h"

namespace frazil::iceberg {

struct ParsedLocation {
  // "file" for every local form; otherwise the scheme as written, lower
  // case (e.g. "s3"), with `authority` the bucket or host.
  std::string scheme;
  std::string authority;
  // Local files: the absolute path, repeated slashes collapsed. Other
  // schemes: the key after the authority, without its leading '/'.
  std::string path;
  // What preceded `path` in the text ("file:", "file://", "" ...), so a
  // listing can name files the way its prefix was written.
  std::string spelled_prefix;

  bool local() const { return scheme == "file"; }
};

// Splits a location. Local forms: `/p`, `file:/p`, `file:///p`,
// `file://localhost/p`. A local path must be absolute; `file://host/p` with
// another host and relative paths are InvalidArgument. Other schemes
// (`s3://bucket/key`) are parsed but not interpreted.
Result<ParsedLocation> ParseLocation(std::string_view location);

// The one spelling used to compare locations: `file:///p` for local files
// (slashes collapsed), `scheme://authority/key` for others, with `s3a://`
// and `s3n://` (Hadoop's names for S3) spelled `s3://`. Text that does
// not parse is returned unchanged (it then only equals itself).
std::string CanonicalLocation(std::string_view location);

// True if both name the same file.
bool SameLocation(std::string_view a, std::string_view b);

// `base` + "/" + `relative`, whatever trailing slashes `base` has; the
// result keeps `base`'s spelling (`file:/t` + "data/x" -> `file:/t/data/x`).
std::string JoinLocation(std::string_view base, std::string_view relative);

// True if `location` is `dir` or lies under it (compared canonically, on
// whole path segments: `/t2/x` is not under `/t`).
bool LocationUnder(std::string_view location, std::string_view dir);

// Hadoop's checksum sidecar of a file: `dir/.name.crc` for `dir/name`
// (Spark and other Java engines on local files write one next to each file).
std::string ChecksumSidecar(std::string_view location);
// For a sidecar `dir/.name.crc`, the file it belongs to (`dir/name`);
// nullopt for any other name.
std::optional<std::string> SidecarOwner(std::string_view location);

}  // namespace frazil::iceberg
