#include "frazil/catalog/glue_client.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

namespace frazil::catalog {
namespace {

// The text of the first <tag>...</tag> in an XML error (moto's and AWS's
// authentication errors come as XML even from JSON services).
std::string XmlElement(std::string_view body, std::string_view tag) {
  std::string open = "<" + std::string(tag) + ">", close = "</" + std::string(tag) + ">";
  size_t a = body.find(open);
  if (a == std::string_view::npos) return "";
  a += open.size();
  size_t b = body.find(close, a);
  return b == std::string_view::npos ? "" : std::string(body.substr(a, b - a));
}

}  // namespace

std::string GlueErrorType(std::string_view header, std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  std::string type;
  if (j.is_object() && j.contains("__type") && j["__type"].is_string()) type = j["__type"].get<std::string>();
  if (type.empty()) type = std::string(header.substr(0, header.find(':')));
  if (type.empty()) type = XmlElement(body, "Code");
  if (size_t hash = type.rfind('#'); hash != std::string::npos) type = type.substr(hash + 1);
  return type;
}

bool IsGlueThrottling(long http_status, std::string_view type) {
  return http_status == 429 || type == "ThrottlingException" || type == "Throttling" ||
         type == "TooManyRequestsException" || type == "RequestLimitExceeded";
}

Status MapGlueError(long http_status, std::string_view type, std::string_view message,
                    std::string_view what) {
  std::string m = "glue " + std::string(what) + ": " +
                  (type.empty() ? "HTTP " + std::to_string(http_status) : std::string(type));
  if (!message.empty()) m += ": " + std::string(message);
  if (type == "EntityNotFoundException") return Status::NotFound(m);
  if (type == "AlreadyExistsException") return Status::AlreadyExists(m);
  if (type == "ConcurrentModificationException") return Status::CommitConflict(m);
  if (IsGlueThrottling(http_status, type)) return Status::Unavailable(m + " (throttled)");
  if (type == "InternalServiceException" || type == "OperationTimeoutException" ||
      type == "ServiceUnavailableException" || http_status >= 500)
    return Status::Unavailable(m);
  if (type == "AccessDeniedException" || type == "UnrecognizedClientException" ||
      type == "InvalidClientTokenId" || type == "InvalidSignatureException" ||
      type == "SignatureDoesNotMatch" || type == "IncompleteSignature" ||
      type == "MissingAuthenticationToken" || type == "ExpiredTokenException" || http_status == 401 ||
      http_status == 403)
    return Status::InvalidArgument(m + " (check the AWS credentials and the IAM permissions for Glue)");
  if (type == "ResourceNumberLimitExceededException") return Status::ResourceExhausted(m);
  if (http_status >= 400 && http_status < 500) return Status::InvalidArgument(m);
  return Status::IoError(m);
}

GlueClient::GlueClient(GlueClientOptions options) : options_(std::move(options)) {
  endpoint_ =
      options_.endpoint.empty() ? "https://glue." + options_.region + ".amazonaws.com" : options_.endpoint;
  while (!endpoint_.empty() && endpoint_.back() == '/') endpoint_.pop_back();
  size_t scheme = endpoint_.find("://");
  std::string rest = scheme == std::string::npos ? endpoint_ : endpoint_.substr(scheme + 3);
  host_ = rest.substr(0, rest.find('/'));
  http_ = std::make_unique<net::HttpClient>(net::HttpClientOptions{
      options_.connect_timeout_ms, options_.request_timeout_ms, /*max_idle_handles=*/8});
}

Result<nlohmann::json> GlueClient::CallOnce(std::string_view op, const std::string& body, bool* retryable,
                                            bool* maybe_applied) {
  *retryable = false;
  *maybe_applied = false;
  const std::string target = "AWSGlue." + std::string(op);
  const std::string amz_date = net::sigv4::AmzDate(std::chrono::system_clock::now());
  const std::string payload_hash = net::sigv4::HexSha256(body);
  net::sigv4::CanonicalInput in;
  in.method = "POST";
  in.path = "/";
  in.payload_hash = payload_hash;
  in.headers = {{"host", host_},
                {"x-amz-date", amz_date},
                {"x-amz-target", target},
                {"content-type", "application/x-amz-json-1.1"}};
  if (!options_.credentials.session_token.empty())
    in.headers.emplace_back("x-amz-security-token", options_.credentials.session_token);
  net::HttpRequest req;
  req.method = "POST";
  req.url = endpoint_ + "/";
  req.headers = in.headers;
  req.headers.emplace_back("Authorization", net::sigv4::AuthorizationHeader(
                                                in, options_.credentials, amz_date, options_.region, "glue"));
  req.body = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(body.data()), body.size());
  bool timed_out = false;
  auto resp = http_->Send(req, &timed_out);
  if (!resp.ok()) {
    *retryable = true;
    // A connection never made (libcurl: "Failed to connect ...: Couldn't
    // connect to server", "Could not resolve host") never reached Glue;
    // anything else (timeout, dropped connection) may have.
    const std::string& msg = resp.status().message();
    const bool never_sent = msg.find("Couldn't connect") != std::string::npos ||
                            msg.find("Failed to connect") != std::string::npos ||
                            msg.find("Could not resolve") != std::string::npos ||
                            msg.find("refused") != std::string::npos;
    *maybe_applied = timed_out || !never_sent;
    return Status::Unavailable("glue " + std::string(op) + " at " + endpoint_ + ": " + msg);
  }
  const std::string text = resp->BodyText();
  if (resp->status == 200) {
    auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object())
      return Status::IoError("glue " + std::string(op) + " at " + endpoint_ +
                             ": answer is not a JSON object: " + text.substr(0, 200));
    return j;
  }
  std::string type = GlueErrorType(resp->Header("x-amzn-errortype"), text);
  std::string message;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_object()) {
    for (const char* k : {"message", "Message"})
      if (j.contains(k) && j[k].is_string()) message = j[k].get<std::string>();
  } else if (std::string xml_message = XmlElement(text, "Message"); !xml_message.empty()) {
    message = xml_message;
  } else if (!text.empty()) {
    message = text.substr(0, 200);
  }
  Status st = MapGlueError(resp->status, type, message, op);
  *retryable = IsGlueThrottling(resp->status, type) || st.code() == StatusCode::kUnavailable;
  *maybe_applied = resp->status >= 500;
  return st;
}

Result<nlohmann::json> GlueClient::Call(std::string_view op, const nlohmann::json& body, bool idempotent,
                                        bool* maybe_applied) {
  const std::string text = body.dump();
  thread_local std::mt19937_64 rng{std::random_device{}()};
  for (int attempt = 1;; ++attempt) {
    bool retryable = false, applied = false;
    auto r = CallOnce(op, text, &retryable, &applied);
    if (maybe_applied) *maybe_applied = applied;
    if (r.ok() || !idempotent || !retryable || attempt >= options_.max_attempts) return r;
    int64_t cap =
        std::min(options_.retry_max_delay_ms, options_.retry_base_delay_ms << std::min(attempt - 1, 20));
    std::uniform_int_distribution<int64_t> wait(cap / 2, std::max<int64_t>(cap, 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(wait(rng)));
  }
}

}  // namespace frazil::catalog
