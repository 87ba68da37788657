#include "frazil/objstore/s3_config.h"

#include <utility>

namespace frazil::objstore {

Result<S3Config> ResolveS3Config(S3Config c, const Environment& env) {
  net::AwsSettings given{c.access_key_id, c.secret_access_key, c.session_token, c.region, c.profile};
  FRAZIL_ASSIGN_OR_RETURN(net::AwsSettings aws, net::ResolveAwsSettings(std::move(given), env, "s3"));
  c.access_key_id = std::move(aws.access_key_id);
  c.secret_access_key = std::move(aws.secret_access_key);
  c.session_token = std::move(aws.session_token);
  c.region = std::move(aws.region);
  if (c.max_attempts < 1) return Status::InvalidArgument("s3: max_attempts must be at least 1");
  if (c.multipart_part_size < (5ull << 20))
    return Status::InvalidArgument("s3: multipart_part_size must be at least 5 MiB (S3's minimum part size)");
  if (c.multipart_parallelism < 1)
    return Status::InvalidArgument("s3: multipart_parallelism must be at least 1");
  if (c.connect_timeout_ms <= 0 || c.request_timeout_ms <= 0)
    return Status::InvalidArgument("s3: timeouts must be positive");
  return c;
}

}  // namespace frazil::objstore
