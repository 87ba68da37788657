#include "frazil/objstore/s3_object_store.h"

#include <openssl/evp.h>
#include <openssl/md5.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>
#include <deque>
#include <future>
#include <random>
#include <thread>

#include "frazil/common/executor.h"
#include "frazil/common/logging.h"
#include "frazil/net/aws_sigv4.h"
#include "frazil/objstore/object_store_stats.h"
#include "frazil/objstore/s3_xml.h"

namespace frazil::objstore {

namespace {

std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string Base64(std::span<const unsigned char> data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string Md5Base64(std::span<const uint8_t> data) {
  unsigned char digest[MD5_DIGEST_LENGTH];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr);
  return Base64({digest, len});
}

std::string Md5Hex(std::span<const uint8_t> data) {
  unsigned char digest[MD5_DIGEST_LENGTH];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr);
  return net::sigv4::ToHex(std::string_view(reinterpret_cast<const char*>(digest), len));
}

// "2026-11-30T20:00:00.000Z" (listings) -> ms since the epoch; 0 if unreadable.
int64_t ParseIso8601Ms(const std::string& s) {
  std::tm tm{};
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return 0;
  int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  if (*rest == '.')
    ms += std::atoi(std::string(rest + 1, std::min<size_t>(3, std::strlen(rest + 1))).c_str());
  return ms;
}

// "Mon, 30 Nov 2026 20:00:00 GMT" (Last-Modified) -> ms; 0 if unreadable.
int64_t ParseHttpDateMs(const std::string& s) {
  std::tm tm{};
  if (!strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S", &tm)) return 0;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

uint64_t ParseU64(const std::string& s) {
  uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

bool Retryable(long status, const std::string& code) {
  // 409 ConditionalRequestConflict: a conditional write raced another
  // request on the same key; S3 asks for a retry.
  return status >= 500 || status == 429 || code == "SlowDown" || code == "RequestTimeout" ||
         code == "InternalError" || code == "ServiceUnavailable" || code == "ConditionalRequestConflict";
}

// Why a retryable answer failed, for the retry counters.
RetryReason ReasonFor(long status, const std::string& code) {
  if (status == 429 || code == "SlowDown") return RetryReason::kThrottled;
  if (code == "RequestTimeout") return RetryReason::kTimeout;
  return RetryReason::kServerError;
}

// What a final (non-retried) error answer means, for the error counters.
ErrorKind KindFor(long status, const std::string& code) {
  if (status == 404 || code == "NoSuchBucket" || code == "NoSuchKey" || code == "NoSuchUpload")
    return ErrorKind::kNotFound;
  if (status == 401 || status == 403 || code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch")
    return ErrorKind::kDenied;
  if (status == 409 || status == 412) return ErrorKind::kConflict;
  return ErrorKind::kOther;
}

bool HasQuery(const S3ObjectStore::Call& call, std::string_view name) {
  for (const auto& [k, v] : call.query)
    if (k == name) return true;
  return false;
}

// The S3 operation a call is, from its method, key and query.
StoreOp OpFor(const S3ObjectStore::Call& call) {
  const std::string& m = call.method;
  if (m == "GET") {
    if (call.key.empty()) return HasQuery(call, "list-type") ? StoreOp::kList : StoreOp::kOther;
    for (const auto& [k, v] : call.headers)
      if (k == "range") return StoreOp::kGetRange;
    return StoreOp::kGet;
  }
  if (m == "HEAD") return call.key.empty() ? StoreOp::kHeadBucket : StoreOp::kHead;
  if (m == "PUT") {
    if (call.key.empty()) return StoreOp::kOther;  // CreateBucket
    return HasQuery(call, "partNumber") ? StoreOp::kUploadPart : StoreOp::kPut;
  }
  if (m == "POST") {
    if (HasQuery(call, "delete")) return StoreOp::kDeleteBatch;
    if (HasQuery(call, "uploads")) return StoreOp::kCreateMultipart;
    if (HasQuery(call, "uploadId")) return StoreOp::kCompleteMultipart;
    return StoreOp::kOther;
  }
  if (m == "DELETE") return HasQuery(call, "uploadId") ? StoreOp::kAbortMultipart : StoreOp::kDelete;
  return StoreOp::kOther;
}

ObjectStoreStats& Stats() { return GlobalObjectStoreStats(StoreKind::kS3); }

std::string HiddenName(const std::string& key) {
  size_t slash = key.rfind('/');
  return slash == std::string::npos ? key : key.substr(slash + 1);
}

}  // namespace

// ---------------------------------------------------------------------------

Result<std::unique_ptr<S3ObjectStore>> S3ObjectStore::Open(S3Config config, std::string bucket) {
  if (bucket.empty()) return Status::InvalidArgument("s3: no bucket");
  if (config.access_key_id.empty() || config.secret_access_key.empty())
    return Status::InvalidArgument("s3: no credentials for bucket '" + bucket + "' (config not resolved?)");
  if (config.region.empty()) return Status::InvalidArgument("s3: no region for bucket '" + bucket + "'");
  std::unique_ptr<S3ObjectStore> store(new S3ObjectStore(std::move(config), std::move(bucket)));
  const S3Config& c = store->config_;
  std::string endpoint = c.endpoint.empty() ? "https://s3." + c.region + ".amazonaws.com" : c.endpoint;
  size_t sep = endpoint.find("://");
  if (sep == std::string::npos)
    return Status::InvalidArgument("s3: endpoint '" + endpoint + "' must start with http:// or https://");
  store->scheme_ = endpoint.substr(0, sep);
  if (store->scheme_ != "http" && store->scheme_ != "https")
    return Status::InvalidArgument("s3: endpoint '" + endpoint + "' must start with http:// or https://");
  std::string authority = endpoint.substr(sep + 3);
  if (!authority.empty() && authority.back() == '/') authority.pop_back();
  if (authority.empty() || authority.find('/') != std::string::npos)
    return Status::InvalidArgument("s3: endpoint '" + endpoint +
                                   "' must be scheme://host[:port] without a path");
  if (c.path_style) {
    store->host_ = authority;
    store->base_path_ = "/" + store->bucket_;
  } else {
    // Bucket names with dots break TLS host matching; path style is needed
    // for them (and for most servers other than AWS).
    store->host_ = store->bucket_ + "." + authority;
  }
  return store;
}

S3ObjectStore::S3ObjectStore(S3Config config, std::string bucket)
    : config_(std::move(config)),
      bucket_(std::move(bucket)),
      http_(net::HttpClientOptions{config_.connect_timeout_ms, config_.request_timeout_ms,
                                   static_cast<size_t>(std::max(16, 2 * config_.multipart_parallelism))}) {}

std::string S3ObjectStore::Describe(const std::string& key) const {
  return "s3://" + bucket_ + (key.empty() ? "" : "/" + key);
}

void S3ObjectStore::LogRateLimited(const std::string& line) {
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  int64_t next = next_log_ns_.load(std::memory_order_relaxed);
  if (now < next || !next_log_ns_.compare_exchange_strong(next, now + 1'000'000'000)) {
    if (!line.empty()) logs_skipped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  int64_t skipped = logs_skipped_.exchange(0, std::memory_order_relaxed);
  if (line.empty()) {
    if (skipped > 0) FRAZIL_LOG_WARN("{} more retry messages for s3://{} suppressed", skipped, bucket_);
  } else if (skipped > 0) {
    FRAZIL_LOG_WARN("{} ({} more retry messages for s3://{} suppressed)", line, skipped, bucket_);
  } else {
    FRAZIL_LOG_WARN("{}", line);
  }
}

Result<net::HttpResponse> S3ObjectStore::SendOnce(const Call& call, bool* timed_out) {
  std::string path = base_path_ + "/" + call.key;
  if (path.size() > 1 && call.key.empty() && !base_path_.empty()) path = base_path_;
  std::string amz_date = net::sigv4::AmzDate(std::chrono::system_clock::now());
  std::string payload_hash =
      config_.sign_payload ? net::sigv4::HexSha256(call.body) : std::string(net::sigv4::kUnsignedPayload);

  net::sigv4::CanonicalInput in;
  in.method = call.method;
  in.path = path;
  in.query = call.query;
  in.payload_hash = payload_hash;
  in.headers = call.headers;
  in.headers.emplace_back("host", host_);
  in.headers.emplace_back("x-amz-date", amz_date);
  in.headers.emplace_back("x-amz-content-sha256", payload_hash);
  if (!config_.session_token.empty()) in.headers.emplace_back("x-amz-security-token", config_.session_token);
  net::sigv4::Credentials creds{config_.access_key_id, config_.secret_access_key, config_.session_token};

  net::HttpRequest req;
  req.method = call.method;
  req.url = scheme_ + "://" + host_ + net::sigv4::UriEncode(path, true);
  std::string query = net::sigv4::CanonicalQueryString(call.query);
  if (!query.empty()) req.url += "?" + query;
  req.headers = in.headers;
  req.headers.emplace_back("Authorization",
                           net::sigv4::AuthorizationHeader(in, creds, amz_date, config_.region, "s3"));
  req.body = call.body;
  requests_.fetch_add(1, std::memory_order_relaxed);
  ObjectStoreStats& stats = Stats();
  stats.Request(OpFor(call));
  if (call.method == "PUT") stats.Written(call.body.size());
  auto start = std::chrono::steady_clock::now();
  auto resp = http_.Send(req, timed_out);
  stats.request_duration.ObserveDuration(std::chrono::steady_clock::now() - start);
  if (resp.ok() && call.method == "GET" && !call.key.empty() && resp->status >= 200 && resp->status < 300)
    stats.Read(resp->body.size());
  return resp;
}

Status S3ObjectStore::ErrorFor(const Call& call, const net::HttpResponse& resp) const {
  std::string body = resp.BodyText();
  std::string code = xml::FirstText(body, "Code");
  std::string message = xml::FirstText(body, "Message");
  std::string what = Describe(call.key);
  std::string detail = "HTTP " + std::to_string(resp.status) + (code.empty() ? "" : " " + code) +
                       (message.empty() ? "" : ": " + message);
  std::string op = "s3 " + call.method + " " + what;
  if (code == "NoSuchBucket" || (resp.status == 404 && call.key.empty()))
    return Status::NotFound("s3 bucket '" + bucket_ + "' does not exist at " + scheme_ + "://" + host_ +
                            " (" + detail + ")");
  if (resp.status == 404 && code == "NoSuchUpload")
    return Status::NotFound(op + ": the multipart upload no longer exists (" + detail + ")");
  if (resp.status == 404) return Status::NotFound("no object " + what + " (" + detail + ")");
  if (resp.status == 412) return Status::AlreadyExists("object already exists: " + what);
  if (resp.status == 416) return Status::OutOfRange(op + ": range not satisfiable (" + detail + ")");
  if (resp.status == 403 || resp.status == 401 || code == "InvalidAccessKeyId" ||
      code == "SignatureDoesNotMatch")
    return Status::IoError(op + ": access denied, check the credentials (access key id '" +
                           config_.access_key_id + "', region '" + config_.region + "'): " + detail);
  return Status::IoError(op + ": " + detail);
}

Result<net::HttpResponse> S3ObjectStore::Execute(const Call& call, int* attempts) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  ObjectStoreStats& stats = Stats();
  auto fail = [&stats](ErrorKind kind, Status st) {
    stats.Error(kind);
    return st;
  };
  Status last;
  for (int attempt = 1;; ++attempt) {
    if (attempts) *attempts = attempt;
    bool timed_out = false;
    auto sent = SendOnce(call, &timed_out);
    RetryReason reason = RetryReason::kConnection;
    std::string why;  // for the log: the HTTP status and S3 code, or the transport's error
    if (sent.ok()) {
      net::HttpResponse& resp = *sent;
      bool ok = resp.status >= 200 && resp.status < 300;
      if (ok && call.method == "POST" && resp.BodyText().find("<Error>") != std::string::npos) {
        std::string body = resp.BodyText();
        std::string code = xml::FirstText(body, "Code");
        std::string detail = code + ": " + xml::FirstText(body, "Message");
        if (body.find("<DeleteResult") != std::string::npos) {
          // Batch delete: errors per key, never retried as a whole.
          return fail(ErrorKind::kOther, Status::IoError("s3 batch delete in s3://" + bucket_ + ": key '" +
                                                         xml::FirstText(body, "Key") + "': " + detail));
        }
        // CompleteMultipartUpload can fail inside a 200; S3 asks for a retry
        // when the code says so.
        Status err = Status::IoError("s3 " + call.method + " " + Describe(call.key) + ": " + detail);
        if (!Retryable(0, code)) return fail(KindFor(0, code), err);
        last = err;
        reason = ReasonFor(0, code);
        why = "HTTP 200 with error " + code;
      } else if (ok) {
        // Lines left out at the end of a burst of retries are counted on a
        // later request, not only on a later retry (there may be none).
        if (logs_skipped_.load(std::memory_order_relaxed) > 0) LogRateLimited("");
        return std::move(sent).value();
      } else {
        std::string code = xml::FirstText(resp.BodyText(), "Code");
        Status err = ErrorFor(call, resp);
        if (!Retryable(resp.status, code)) return fail(KindFor(resp.status, code), err);
        last = err;
        reason = ReasonFor(resp.status, code);
        why = "HTTP " + std::to_string(resp.status) + (code.empty() ? "" : " " + code);
      }
    } else {
      last = sent.status();  // no response: refused, timed out, dropped
      reason = timed_out ? RetryReason::kTimeout : RetryReason::kConnection;
      why = last.message();
    }
    if (attempt >= config_.max_attempts) {
      Status err = Status::Unavailable("s3 " + call.method + " " + Describe(call.key) + ": gave up after " +
                                       std::to_string(attempt) + " attempts: " + last.message());
      LogRateLimited(err.message());
      return fail(ErrorKind::kUnavailable, err);
    }
    // Exponential backoff with full jitter: uniform in [0, min(cap, base*2^n)].
    int64_t ceiling = config_.retry_base_delay_ms << std::min(attempt - 1, 20);
    ceiling = std::min(ceiling, config_.retry_max_delay_ms);
    int64_t delay = std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(ceiling, 0))(rng);
    retries_.fetch_add(1, std::memory_order_relaxed);
    stats.Retry(reason);
    LogRateLimited("s3 " + call.method + " " + Describe(call.key) + ": attempt " + std::to_string(attempt) +
                   " of " + std::to_string(config_.max_attempts) + " failed (" + RetryReasonName(reason) +
                   ": " + why + "), retrying in " + std::to_string(delay) + " ms");
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
  }
}

Result<std::vector<uint8_t>> S3ObjectStore::Get(const std::string& key) {
  FRAZIL_ASSIGN_OR_RETURN(net::HttpResponse resp, Execute(Call{"GET", key, {}, {}, {}}));
  return std::move(resp.body);
}

Result<std::vector<uint8_t>> S3ObjectStore::GetRange(const std::string& key, uint64_t offset,
                                                     uint64_t length) {
  if (length == 0) {
    FRAZIL_ASSIGN_OR_RETURN(ObjectInfo info, Head(key));
    if (offset > info.size) return Status::OutOfRange("read past the end of " + Describe(key));
    return std::vector<uint8_t>();
  }
  Call call{"GET",
            key,
            {},
            {{"range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1)}},
            {}};
  FRAZIL_ASSIGN_OR_RETURN(net::HttpResponse resp, Execute(call));
  if (resp.status == 200) {
    // A server that ignores Range answers 200 with the whole object.
    if (offset + length > resp.body.size())
      return Status::OutOfRange("read past the end of " + Describe(key));
    return std::vector<uint8_t>(resp.body.begin() + static_cast<ptrdiff_t>(offset),
                                resp.body.begin() + static_cast<ptrdiff_t>(offset + length));
  }
  // 206: fewer bytes than asked means the object ends inside the range.
  if (resp.body.size() != length) return Status::OutOfRange("read past the end of " + Describe(key));
  return std::move(resp.body);
}

Result<ObjectInfo> S3ObjectStore::Head(const std::string& key) {
  FRAZIL_ASSIGN_OR_RETURN(net::HttpResponse resp, Execute(Call{"HEAD", key, {}, {}, {}}));
  ObjectInfo info{key, 0, ParseHttpDateMs(resp.Header("last-modified"))};
  info.size = ParseU64(resp.Header("content-length"));
  return info;
}

Status S3ObjectStore::Delete(const std::string& key) {
  auto r = Execute(Call{"DELETE", key, {}, {}, {}});
  if (!r.ok() && r.status().code() == StatusCode::kNotFound &&
      r.status().message().find("NoSuchBucket") == std::string::npos &&
      r.status().message().find("does not exist at") == std::string::npos)
    return Status::Ok();
  return r.ok() ? Status::Ok() : r.status();
}

Status S3ObjectStore::DeleteMany(const std::vector<std::string>& keys) {
  constexpr size_t kBatch = 1000;  // S3's limit per request
  for (size_t i = 0; i < keys.size(); i += kBatch) {
    std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>";
    for (size_t j = i; j < std::min(keys.size(), i + kBatch); ++j)
      body += "<Object><Key>" + xml::Escape(keys[j]) + "</Key></Object>";
    body += "</Delete>";
    auto bytes = AsBytes(body);
    Call call{"POST",
              "",
              {{"delete", ""}},
              {{"content-md5", Md5Base64(bytes)}, {"content-type", "application/xml"}},
              bytes};
    // The response is a 200 listing per-key errors; Execute sees "<Error>".
    auto r = Execute(call);
    if (!r.ok()) {
      if (r.status().code() == StatusCode::kNotFound) return r.status();
      return r.status().WithContext("batch delete of " + std::to_string(std::min(kBatch, keys.size() - i)) +
                                    " keys in s3://" + bucket_);
    }
  }
  return Status::Ok();
}

Status S3ObjectStore::CheckBucket() {
  auto r = Execute(Call{"HEAD", "", {}, {}, {}});
  return r.ok() ? Status::Ok() : r.status();
}

Result<std::vector<ObjectInfo>> S3ObjectStore::List(const std::string& prefix, bool include_hidden) {
  std::vector<ObjectInfo> out;
  std::string token;
  while (true) {
    Call call{"GET",
              "",
              {{"list-type", "2"}, {"prefix", prefix}, {"max-keys", std::to_string(list_page_size_.load())}},
              {},
              {}};
    if (!token.empty()) call.query.emplace_back("continuation-token", token);
    FRAZIL_ASSIGN_OR_RETURN(net::HttpResponse resp, Execute(call));
    std::string body = resp.BodyText();
    for (std::string_view c : xml::Elements(body, "Contents")) {
      ObjectInfo info;
      info.key = xml::FirstText(c, "Key");
      std::string size = xml::FirstText(c, "Size");
      info.size = ParseU64(size);
      info.modified_ms = ParseIso8601Ms(xml::FirstText(c, "LastModified"));
      if (!include_hidden && HiddenName(info.key).starts_with(".")) continue;
      out.push_back(std::move(info));
    }
    if (xml::FirstText(body, "IsTruncated") != "true") break;
    std::string next = xml::FirstText(body, "NextContinuationToken");
    if (next.empty() || next == token)
      return Status::IoError("s3 list " + Describe(prefix) +
                             ": truncated listing without a continuation token");
    token = std::move(next);
  }
  return out;
}

// ---------------------------------------------------------------------------

// The parts of every writer in the process go up on one pool, so threads do
// not grow with concurrent large uploads (many committers at once). Part
// uploads never wait on the pool themselves, so a full pool only queues.
// Never destroyed: writers may run until the process exits.
namespace {
Executor* PartUploadExecutor() {
  static Executor* e = new Executor("s3-upload", S3ObjectStore::kUploadThreads);
  return e;
}
}  // namespace

const Executor* S3ObjectStore::UploadExecutor() { return PartUploadExecutor(); }

// Buffers up to one part; beyond that, a multipart upload with up to
// `multipart_parallelism` parts queued or on the network at once, on the
// shared upload pool. The writer is used by one thread at a time, like the
// local one; nothing here is shared, so no lock.
class S3ObjectWriter final : public ObjectWriter {
 public:
  S3ObjectWriter(S3ObjectStore* store, std::string key) : store_(store), key_(std::move(key)) {}

  ~S3ObjectWriter() override {
    if (!upload_id_.empty() && !completed_) Abort();
  }

  Status Append(std::span<const uint8_t> data) override {
    if (closed_) return Status::Closed("object writer for " + store_->Describe(key_) + " is closed");
    if (!failed_.ok()) return failed_;
    const uint64_t part = store_->config_.multipart_part_size;
    // The buffer fills up to one part and is then handed to the upload as
    // it is (no copy of the part, no shifting of the rest); once the object
    // is known to be multipart, each new buffer is sized for a whole part.
    size_t at = 0;
    while (at < data.size()) {
      const size_t take = static_cast<size_t>(std::min<uint64_t>(part - buffer_.size(), data.size() - at));
      buffer_.insert(buffer_.end(), data.begin() + static_cast<ptrdiff_t>(at),
                     data.begin() + static_cast<ptrdiff_t>(at + take));
      at += take;
      pos_ += take;
      if (buffer_.size() < part) break;
      if (upload_id_.empty()) {
        Status st = StartUpload();
        if (!st.ok()) return Fail(st);
      }
      auto chunk = std::make_shared<std::vector<uint8_t>>(std::move(buffer_));
      buffer_ = std::vector<uint8_t>();
      buffer_.reserve(part);
      Status st = LaunchPart(std::move(chunk));
      if (!st.ok()) return Fail(st);
    }
    return failed_;
  }

  uint64_t Position() const override { return pos_; }

  Status Commit() override {
    if (closed_) return Status::Closed("object writer for " + store_->Describe(key_) + " is closed");
    closed_ = true;
    if (!failed_.ok()) return failed_;
    if (upload_id_.empty()) return PutWhole();
    if (!buffer_.empty()) {
      Status st = LaunchPart(std::make_shared<std::vector<uint8_t>>(std::move(buffer_)));
      if (!st.ok()) return Fail(st);
    }
    while (!in_flight_.empty()) {
      Status st = WaitOldest();
      if (!st.ok()) return Fail(st);
    }
    // Fallback for servers that ignore If-None-Match on completion.
    auto head = store_->Head(key_);
    if (head.ok()) return Fail(Status::AlreadyExists("object already exists: " + store_->Describe(key_)));
    if (head.status().code() != StatusCode::kNotFound) return Fail(head.status());
    std::string body = "<CompleteMultipartUpload>";
    for (const auto& [n, etag] : done_)
      body += "<Part><PartNumber>" + std::to_string(n) + "</PartNumber><ETag>" + xml::Escape(etag) +
              "</ETag></Part>";
    body += "</CompleteMultipartUpload>";
    S3ObjectStore::Call call{"POST",
                             key_,
                             {{"uploadId", upload_id_}},
                             {{"if-none-match", "*"}, {"content-type", "application/xml"}},
                             AsBytes(body)};
    auto r = store_->Execute(call);
    if (!r.ok() && r.status().code() == StatusCode::kNotFound) {
      // A retried completion whose first attempt went through finds its
      // upload gone: the object of our size is then ours (it was absent
      // just before). Retried by us, or re-sent by libcurl itself, as for
      // PutWhole.
      auto head = store_->Head(key_);
      if (head.ok() && head->size == pos_) {
        completed_ = true;
        return Status::Ok();
      }
    }
    if (!r.ok()) return Fail(r.status());
    completed_ = true;
    return Status::Ok();
  }

 private:
  Status Fail(Status st) {
    if (failed_.ok()) failed_ = st;
    closed_ = true;
    if (!upload_id_.empty() && !completed_) Abort();
    return st;
  }

  Status PutWhole() {
    S3ObjectStore::Call call{"PUT", key_, {}, {{"if-none-match", "*"}}, buffer_};
    auto r = store_->Execute(call);
    if (r.ok()) return Status::Ok();
    // A retried PUT whose first attempt landed meets its own object: the
    // same content (MD5 = ETag of a single PUT) means it is ours. Even a
    // first attempt can be a retry: libcurl re-sends a request by itself
    // when the reused connection it went out on closes before any answer.
    if (r.status().code() == StatusCode::kAlreadyExists) {
      auto head = store_->Execute(S3ObjectStore::Call{"HEAD", key_, {}, {}, {}});
      if (head.ok() && head->Header("etag") == "\"" + Md5Hex(buffer_) + "\"") return Status::Ok();
    }
    return r.status();
  }

  Status StartUpload() {
    int attempts = 0;
    auto r = store_->Execute(S3ObjectStore::Call{"POST", key_, {{"uploads", ""}}, {}, {}}, &attempts);
    if (!r.ok()) return r.status();
    upload_id_ = xml::FirstText(r->BodyText(), "UploadId");
    if (upload_id_.empty())
      return Status::IoError("s3 create multipart upload " + store_->Describe(key_) +
                             ": no UploadId in the answer");
    if (attempts > 1) AbortEarlierUploads();
    return Status::Ok();
  }

  // An attempt whose answer was lost may have started an upload we never
  // heard of; left alone, its (empty) upload would stay in the bucket
  // until a lifecycle rule removes it. Keys are this writer's own (a new
  // file's name), so other uploads of exactly this key are those attempts.
  // Best effort: a failure here leaves what it would have removed.
  void AbortEarlierUploads() {
    auto listed =
        store_->Execute(S3ObjectStore::Call{"GET", "", {{"uploads", ""}, {"prefix", key_}}, {}, {}});
    if (!listed.ok()) return;
    const std::string body = listed->BodyText();
    for (std::string_view upload : xml::Elements(body, "Upload")) {
      const std::string key = xml::FirstText(upload, "Key");
      const std::string id = xml::FirstText(upload, "UploadId");
      if (key != key_ || id.empty() || id == upload_id_) continue;
      auto r = store_->Execute(S3ObjectStore::Call{"DELETE", key_, {{"uploadId", id}}, {}, {}});
      if (r.ok() || r.status().code() == StatusCode::kNotFound) store_->aborted_.fetch_add(1);
    }
  }

  Status LaunchPart(std::shared_ptr<std::vector<uint8_t>> data) {
    while (in_flight_.size() >= static_cast<size_t>(store_->config_.multipart_parallelism))
      FRAZIL_RETURN_IF_ERROR(WaitOldest());
    int number = next_part_++;
    if (number > 10000)
      return Status::ResourceExhausted("s3: more than 10000 parts; raise multipart_part_size");
    S3ObjectStore* store = store_;
    std::string key = key_, upload = upload_id_;
    auto upload_part = [store, key, upload, number, data]() -> Result<std::string> {
      S3ObjectStore::Call call{
          "PUT", key, {{"partNumber", std::to_string(number)}, {"uploadId", upload}}, {}, *data};
      FRAZIL_ASSIGN_OR_RETURN(net::HttpResponse resp, store->Execute(call));
      std::string etag = resp.Header("etag");
      if (etag.empty()) return Status::IoError("s3 upload part " + std::to_string(number) + ": no ETag");
      return etag;
    };
    auto done = std::make_shared<std::promise<Result<std::string>>>();
    std::future<Result<std::string>> fut = done->get_future();
    PartUploadExecutor()->Post(
        [done, upload_part = std::move(upload_part)] { done->set_value(upload_part()); });
    in_flight_.push_back(InFlight{number, std::move(fut)});
    int64_t n = static_cast<int64_t>(in_flight_.size());
    int64_t seen = store_->max_parts_in_flight_.load();
    while (n > seen && !store_->max_parts_in_flight_.compare_exchange_weak(seen, n)) {
    }
    return Status::Ok();
  }

  Status WaitOldest() {
    InFlight f = std::move(in_flight_.front());
    in_flight_.pop_front();
    Result<std::string> etag = f.etag.get();
    if (!etag.ok())
      return etag.status().WithContext("part " + std::to_string(f.number) + " of " + store_->Describe(key_));
    done_.emplace_back(f.number, std::move(etag).value());
    return Status::Ok();
  }

  void Abort() {
    // Parts still uploading would outlive the abort; wait for them first.
    while (!in_flight_.empty()) {
      in_flight_.front().etag.wait();
      in_flight_.pop_front();
    }
    auto r = store_->Execute(S3ObjectStore::Call{"DELETE", key_, {{"uploadId", upload_id_}}, {}, {}});
    if (r.ok() || r.status().code() == StatusCode::kNotFound) store_->aborted_.fetch_add(1);
    completed_ = true;  // nothing more to clean up, whether or not the abort got through
  }

  struct InFlight {
    int number;
    std::future<Result<std::string>> etag;
  };

  S3ObjectStore* const store_;
  const std::string key_;
  std::vector<uint8_t> buffer_;
  uint64_t pos_ = 0;
  std::string upload_id_;
  int next_part_ = 1;
  std::deque<InFlight> in_flight_;
  std::vector<std::pair<int, std::string>> done_;
  Status failed_;
  bool closed_ = false;
  bool completed_ = false;
};

Result<std::unique_ptr<ObjectWriter>> S3ObjectStore::NewObject(const std::string& key) {
  if (key.empty() || key.front() == '/')
    return Status::InvalidArgument("s3 object key must be non-empty and relative to the bucket: '" + key +
                                   "'");
  return std::unique_ptr<ObjectWriter>(new S3ObjectWriter(this, key));
}

}  // namespace frazil::objstore
