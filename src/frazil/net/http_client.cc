#include "frazil/net/http_client.h"

#include <curl/curl.h>

#include <cctype>
#include <mutex>

namespace frazil::net {

namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::vector<uint8_t>*>(user);
  out->insert(out->end(), data, data + size * n);
  return size * n;
}

size_t WriteHeader(char* data, size_t size, size_t n, void* user) {
  auto* resp = static_cast<HttpResponse*>(user);
  std::string_view line(data, size * n);
  // A new status line (after a 100 Continue, or a redirect) starts over.
  if (line.starts_with("HTTP/")) {
    resp->headers.clear();
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name(line.substr(0, colon));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
    value.remove_suffix(1);
  resp->headers.emplace_back(std::move(name), std::string(value));
  return size * n;
}

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return "";
}

HttpClient::HttpClient(HttpClientOptions options) : options_(options) { GlobalInit(); }

HttpClient::~HttpClient() {
  std::vector<void*> idle;
  {
    MutexLock lock(&mu_);
    idle.swap(idle_);
  }
  for (void* h : idle) curl_easy_cleanup(static_cast<CURL*>(h));
}

int64_t HttpClient::connections_opened() const {
  MutexLock lock(&mu_);
  return connections_opened_;
}

void* HttpClient::TakeHandle() {
  {
    MutexLock lock(&mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void HttpClient::ReturnHandle(void* handle) {
  {
    MutexLock lock(&mu_);
    if (idle_.size() < options_.max_idle_handles) {
      idle_.push_back(handle);
      return;
    }
  }
  curl_easy_cleanup(static_cast<CURL*>(handle));  // closes its connections: not under the lock
}

Result<HttpResponse> HttpClient::Send(const HttpRequest& req, bool* timed_out) {
  if (timed_out) *timed_out = false;
  CURL* curl = static_cast<CURL*>(TakeHandle());
  if (!curl) return Status::Internal("curl_easy_init failed");
  // Reset clears the options but keeps the handle's open connections.
  curl_easy_reset(curl);
  HttpResponse resp;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  // Servers' access logs (S3, a REST catalog, Glue) name who called; not signed.
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "frazil");
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_ms));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout_ms));
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &resp);
  if (req.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (req.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (!req.body.empty() || req.method == "PUT" || req.method == "POST") {
      // The body is sent from our buffer (no copy) with a Content-Length.
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, reinterpret_cast<const char*>(req.body.data()));
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    }
  }
  curl_slist* headers = nullptr;
  for (const auto& [k, v] : req.headers) headers = curl_slist_append(headers, (k + ": " + v).c_str());
  // No "Expect: 100-continue" round trip, and no form content type.
  headers = curl_slist_append(headers, "Expect:");
  if (req.method != "POST" || req.body.empty()) headers = curl_slist_append(headers, "Content-Type:");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  CURLcode rc = curl_easy_perform(curl);
  long new_conns = 0;
  curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &new_conns);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp.status);
  curl_slist_free_all(headers);
  if (new_conns > 0) {
    MutexLock lock(&mu_);
    connections_opened_ += new_conns;
  }
  if (rc != CURLE_OK) {
    // A failed handle may hold a broken connection: do not pool it.
    curl_easy_cleanup(curl);
    std::string why = errbuf[0] ? std::string(errbuf) : curl_easy_strerror(rc);
    if (timed_out) *timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    return Status::Unavailable(req.method + " " + req.url + ": " + why);
  }
  ReturnHandle(curl);
  return resp;
}

}  // namespace frazil::net
