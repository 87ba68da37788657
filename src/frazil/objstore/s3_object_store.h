// The object store on an S3 bucket (AWS or any S3-compatible server):
// keys are the bucket's keys. Requests are signed with Signature Version 4
// (aws_sigv4.h), sent over pooled libcurl connections (http_client.h), and
// retried with exponential backoff and full jitter when the failure is
// transient: 5xx, 429, SlowDown, RequestTimeout, timeouts and dropped or
// refused connections. 403, 404, NoSuchBucket and bad credentials are
// never retried; their errors name the bucket and key. Every retry is
// logged (WARN, at most one line a second per store, with a count of the
// lines left out), and every request, retry, failure and body byte is
// counted in GlobalObjectStoreStats(StoreKind::kS3) for /metrics.
//
// Objects larger than one part go up as multipart uploads, several parts
// in flight at once; a failed or abandoned upload is aborted so no parts
// are left behind. Writes are create-if-absent: `If-None-Match: *` on the
// PUT (or on CompleteMultipartUpload), with 412 = AlreadyExists. Servers
// that ignore the header on CompleteMultipartUpload are covered by a HEAD
// just before it, which leaves a window in which two writers of the same
// key can both succeed (see docs/s3.md).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "frazil/common/executor.h"
#include "frazil/net/http_client.h"
#include "frazil/objstore/object_store.h"
#include "frazil/objstore/s3_config.h"

namespace frazil::objstore {

class S3ObjectStore final : public ObjectStore {
 public:
  // Threads of the one pool that uploads the parts of every multipart
  // upload in the process (each writer keeps at most
  // multipart_parallelism parts queued or in flight).
  static constexpr int kUploadThreads = 8;
  // That pool (made on first use), for /metrics.
  static const Executor* UploadExecutor();

  // `config` must be resolved (ResolveS3Config). Does no I/O.
  static Result<std::unique_ptr<S3ObjectStore>> Open(S3Config config, std::string bucket);

  using ObjectStore::List;
  Result<std::vector<uint8_t>> Get(const std::string& key) override;
  Result<std::vector<uint8_t>> GetRange(const std::string& key, uint64_t offset, uint64_t length) override;
  Result<ObjectInfo> Head(const std::string& key) override;
  Result<std::unique_ptr<ObjectWriter>> NewObject(const std::string& key) override;
  Status Delete(const std::string& key) override;
  // S3 has no hidden objects: include_hidden only decides whether names
  // whose last segment starts with '.' are returned.
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, bool include_hidden) override;
  uint64_t read_ahead() const override { return config_.read_ahead_bytes; }

  // Deletes many keys with batch DELETE (POST ?delete, up to 1000 a
  // request). Missing keys are not an error.
  Status DeleteMany(const std::vector<std::string>& keys) override;
  // Checks that the bucket exists and the credentials are accepted
  // (HEAD bucket): a clear error at start rather than on first use.
  Status CheckBucket();

  // Keys per ListObjectsV2 page (S3's maximum is 1000).
  void set_list_page_size(int n) { list_page_size_.store(n); }

  const std::string& bucket() const { return bucket_; }
  // Requests sent (attempts, retries included) and retries made.
  int64_t requests_sent() const { return requests_.load(); }
  int64_t retries() const { return retries_.load(); }
  int64_t multipart_uploads_aborted() const { return aborted_.load(); }
  // The most parts of one object seen on the network at once.
  int64_t max_parts_in_flight() const { return max_parts_in_flight_.load(); }
  net::HttpClient& http() { return http_; }

  // One S3 call; the writer and the tests build them too.
  struct Call {
    std::string method;
    std::string key;  // "" = the bucket itself
    std::vector<std::pair<std::string, std::string>> query;
    std::vector<std::pair<std::string, std::string>> headers;
    std::span<const uint8_t> body;
  };
  // Sends `call`, retrying transient failures; a response whose status is
  // not 2xx comes back as the error it means (NotFound, AlreadyExists for
  // 412, ...). `attempts`, if given, receives how many were made.
  Result<net::HttpResponse> Execute(const Call& call, int* attempts = nullptr);

 private:
  S3ObjectStore(S3Config config, std::string bucket);
  Result<net::HttpResponse> SendOnce(const Call& call, bool* timed_out);
  Status ErrorFor(const Call& call, const net::HttpResponse& resp) const;
  std::string Describe(const std::string& key) const;
  // Logs `line` at WARN unless a line was logged less than a second ago
  // (then counts it, and the next line logged says how many were left out).
  // An empty `line` only logs how many were left out, if any.
  void LogRateLimited(const std::string& line);

  const S3Config config_;
  const std::string bucket_;
  std::string scheme_;     // "http" or "https"
  std::string host_;       // authority requests go to (bucket included if virtual-hosted)
  std::string base_path_;  // "/bucket" for path style, "" otherwise
  net::HttpClient http_;
  std::atomic<int> list_page_size_{1000};
  std::atomic<int64_t> requests_{0}, retries_{0}, aborted_{0}, max_parts_in_flight_{0};
  std::atomic<int64_t> next_log_ns_{0};   // steady clock: when the next WARN line may be logged
  std::atomic<int64_t> logs_skipped_{0};  // lines left out since the last one

  friend class S3ObjectWriter;
};

}  // namespace frazil::objstore
