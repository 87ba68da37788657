// AWS credentials and region, taken the way the AWS SDKs take them when a
// config leaves them out: AWS_* variables, then the shared credentials and
// config files of the profile (AWS_PROFILE or "default"). Shared by every
// client that signs AWS requests (the S3 object store, the Glue catalog).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "frazil/common/status.h"

namespace frazil::net {

// INI sections ("default", "profile dev", ...) of key = value pairs, as in
// ~/.aws/credentials and ~/.aws/config. Comments start with '#' or ';'.
using IniFile = std::map<std::string, std::map<std::string, std::string>>;
Result<IniFile> ParseIni(std::string_view text, std::string_view name_for_errors);

// Where the process environment is read from (tests pass their own).
struct Environment {
  std::function<std::optional<std::string>(const std::string&)> get;
  static Environment Process();
};

// What a config section gives; empty fields are resolved.
struct AwsSettings {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  std::string region;
  std::string profile;  // empty = AWS_PROFILE or "default"
  // Set by ResolveAwsSettings when no region was found anywhere and
  // us-east-1 was taken (S3 accepts that; Glue, like the AWS SDKs, needs a
  // region said somewhere).
  bool region_defaulted = false;
};

// Fills what `given` leaves empty: credentials from AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else from the profile in
// AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials (then AWS_CONFIG_FILE or
// ~/.aws/config); the region from AWS_REGION / AWS_DEFAULT_REGION, else the
// profile in the config file, else us-east-1. InvalidArgument when no
// credentials are found anywhere (naming where it looked), or only half of
// a key pair. `section` names the config section in messages ("s3").
Result<AwsSettings> ResolveAwsSettings(AwsSettings given, const Environment& env, std::string_view section);

}  // namespace frazil::net
