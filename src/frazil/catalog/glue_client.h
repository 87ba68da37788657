// Calls to the AWS Glue API: JSON 1.1 over HTTPS POST, the operation in
// X-Amz-Target, signed with SigV4 for service `glue`. Errors come back as
// Status values with the Glue exception type mapped to a code (see
// MapGlueError); throttled calls that are safe to repeat are retried with
// exponential backoff and jitter. Thread-safe; no lock is held during a
// request (the HTTP client pools its connections).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "frazil/common/status.h"
#include "frazil/net/aws_sigv4.h"
#include "frazil/net/http_client.h"

namespace frazil::catalog {

struct GlueClientOptions {
  std::string region;    // required
  std::string endpoint;  // empty = https://glue.REGION.amazonaws.com
  net::sigv4::Credentials credentials;
  int64_t connect_timeout_ms = 5'000;
  int64_t request_timeout_ms = 30'000;
  // Attempts for calls safe to repeat (first included), and the backoff
  // between them (exponential from base, capped, with jitter).
  int max_attempts = 5;
  int64_t retry_base_delay_ms = 100;
  int64_t retry_max_delay_ms = 5'000;
};

// The exception name in a Glue error: the `__type` of the JSON body
// ("com.amazonaws...#EntityNotFoundException" -> "EntityNotFoundException"),
// else the x-amzn-errortype header (before any ':').
std::string GlueErrorType(std::string_view errortype_header, std::string_view body);

// The Status for a Glue error response:
//   EntityNotFoundException -> NotFound; AlreadyExistsException -> AlreadyExists;
//   ConcurrentModificationException -> CommitConflict;
//   throttling, 5xx, InternalServiceException, OperationTimeoutException -> Unavailable;
//   access denied / bad or expired credentials / bad signature (and 401/403) -> InvalidArgument
//     naming the credentials; InvalidInputException and other 4xx -> InvalidArgument.
// `what` names the operation ("GetTable db.t").
Status MapGlueError(long http_status, std::string_view type, std::string_view message, std::string_view what);
// Throttling: retried for calls safe to repeat.
bool IsGlueThrottling(long http_status, std::string_view type);

class GlueClient {
 public:
  explicit GlueClient(GlueClientOptions options);

  // POSTs `body` as operation `op` ("GetTable"). `idempotent`: the call may
  // be repeated (reads), so throttling, 5xx and transport failures are
  // retried; otherwise the first failure is returned. A transport failure
  // is Unavailable; `maybe_applied` (if given) is set when the request may
  // have reached the server without an answer (timeout, dropped
  // connection, 5xx), as opposed to a refused connection or a 4xx.
  Result<nlohmann::json> Call(std::string_view op, const nlohmann::json& body, bool idempotent,
                              bool* maybe_applied = nullptr);

  const std::string& endpoint() const { return endpoint_; }

 private:
  Result<nlohmann::json> CallOnce(std::string_view op, const std::string& body, bool* retryable,
                                  bool* maybe_applied);

  const GlueClientOptions options_;
  std::string endpoint_;  // without a trailing '/'
  std::string host_;      // Host header: host[:port] of the endpoint
  std::unique_ptr<net::HttpClient> http_;
};

}  // namespace frazil::catalog
