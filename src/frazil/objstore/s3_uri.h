// S3 locations: `s3://bucket/key`. Engines also write `s3a://` (Hadoop's
// S3A) and `s3n://` for the same objects, so all three are read.
#pragma once

#include <string>
#include <string_view>

#include "frazil/common/status.h"

namespace frazil::objstore {

struct S3Uri {
  std::string scheme;  // "s3", "s3a" or "s3n", as written
  std::string bucket;
  std::string key;  // may be empty (the whole bucket) or a prefix

  // The canonical spelling, always `s3://`.
  std::string ToString() const { return "s3://" + bucket + (key.empty() ? "" : "/" + key); }
};

// True when `location` names one of the S3 schemes (valid or not).
bool IsS3Location(std::string_view location);

// InvalidArgument, naming the URI and what is wrong, for anything that is
// not scheme://bucket[/key] with a valid bucket name (3-63 characters of
// a-z 0-9 . -, starting and ending with a letter or digit).
Result<S3Uri> ParseS3Uri(std::string_view uri);

}  // namespace frazil::objstore
