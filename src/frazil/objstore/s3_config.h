// How to reach S3: endpoint, region, credentials, timeouts, retries and
// multipart sizes. Credentials and region not given explicitly are taken
// the way the AWS SDKs take them: AWS_* variables, then the shared
// credentials and config files of the profile (AWS_PROFILE or "default").
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "frazil/common/status.h"
#include "frazil/net/aws_credentials.h"

namespace frazil::objstore {

struct S3Config {
  std::string endpoint;     // "http://127.0.0.1:9000"; empty = AWS for `region`
  std::string region;       // empty = resolved (AWS_REGION, profile, "us-east-1")
  bool path_style = false;  // bucket in the path instead of the host name
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  std::string profile;  // empty = AWS_PROFILE or "default"

  int64_t connect_timeout_ms = 5'000;
  int64_t request_timeout_ms = 60'000;  // whole request, body included
  // Retry budget: attempts per request (first included) and the backoff
  // between them (exponential from base, capped, with full jitter).
  int max_attempts = 6;
  int64_t retry_base_delay_ms = 100;
  int64_t retry_max_delay_ms = 5'000;

  // Objects larger than one part go up as multipart uploads (S3 needs
  // parts of at least 5 MiB except the last).
  uint64_t multipart_part_size = 8ull << 20;
  int multipart_parallelism = 4;  // parts in flight per object
  // Sequential reads (a Parquet column chunk page by page) fetch this
  // much per ranged GET, so a page costs no round trip of its own.
  uint64_t read_ahead_bytes = 4ull << 20;
  // Hash each body into x-amz-content-sha256 (the server checks it);
  // false sends UNSIGNED-PAYLOAD.
  bool sign_payload = true;
};

// The credential chain lives in net/aws_credentials.h; these names stay
// here for the callers that reach it through the S3 config.
using net::Environment;
using net::IniFile;
using net::ParseIni;

// Fills what `config` leaves empty: credentials from AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else from the profile in
// AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials; the region from
// AWS_REGION / AWS_DEFAULT_REGION, else the profile in AWS_CONFIG_FILE or
// ~/.aws/config, else us-east-1. InvalidArgument when no credentials are
// found anywhere (naming where it looked), or only half of a key pair.
Result<S3Config> ResolveS3Config(S3Config config, const Environment& env);

}  // namespace frazil::objstore
