// A blocking HTTP/1.1 client over libcurl, safe to use from many threads.
// Easy handles are pooled, and each keeps its connection open between
// requests, so consecutive requests to the same endpoint reuse a
// connection. No lock is held while a request is on the network.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "frazil/common/mutex.h"
#include "frazil/common/status.h"

namespace frazil::net {

struct HttpRequest {
  std::string method;  // GET, HEAD, PUT, POST, DELETE
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::span<const uint8_t> body;
};

struct HttpResponse {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::vector<uint8_t> body;

  // The first value of header `name` (lower-case), or "".
  std::string Header(std::string_view name) const;
  std::string BodyText() const { return std::string(body.begin(), body.end()); }
};

struct HttpClientOptions {
  int64_t connect_timeout_ms = 5'000;
  int64_t request_timeout_ms = 60'000;
  size_t max_idle_handles = 16;
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Any HTTP status is a response; failures to get one (refused, timed
  // out, connection dropped, DNS) are Unavailable, naming the URL and
  // libcurl's reason. `timed_out`, if given, is set to whether the failure
  // was a timeout (connect or whole request).
  Result<HttpResponse> Send(const HttpRequest& request, bool* timed_out = nullptr);

  // Connections opened so far (a measure of reuse).
  int64_t connections_opened() const;

 private:
  void* TakeHandle();
  void ReturnHandle(void* handle);

  const HttpClientOptions options_;
  mutable Mutex mu_;
  std::vector<void*> idle_ GUARDED_BY(mu_);  // CURL*
  int64_t connections_opened_ GUARDED_BY(mu_) = 0;
};

}  // namespace frazil::net
