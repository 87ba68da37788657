// Process-wide counters of object-store traffic, per kind of store, for
// /metrics (docs/metrics.md, "Object storage"). Relaxed atomics: any thread
// updates them without a lock, a scrape reads them.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "frazil/common/histogram.h"
#include "frazil/common/status.h"

namespace frazil::objstore {

enum class StoreKind { kLocal, kS3 };
inline constexpr size_t kStoreKinds = 2;

// What a request does (S3: one HTTP request; local: one store call).
enum class StoreOp {
  kGet,
  kGetRange,
  kHead,
  kPut,
  kCreateMultipart,
  kUploadPart,
  kCompleteMultipart,
  kAbortMultipart,
  kDelete,
  kDeleteBatch,
  kList,
  kHeadBucket,
  kOther,
};
inline constexpr size_t kStoreOps = 13;

// Why an attempt was retried.
enum class RetryReason { kServerError, kThrottled, kTimeout, kConnection };
inline constexpr size_t kRetryReasons = 4;

// Why a call failed for good (after its retry budget, or not retryable).
enum class ErrorKind { kUnavailable, kNotFound, kDenied, kConflict, kOther };
inline constexpr size_t kErrorKinds = 5;

const char* StoreKindName(StoreKind kind);
const char* StoreOpName(StoreOp op);
const char* RetryReasonName(RetryReason reason);
const char* ErrorKindName(ErrorKind kind);

struct ObjectStoreStats {
  std::array<std::atomic<uint64_t>, kStoreOps> requests{};  // every attempt, retries included
  std::array<std::atomic<uint64_t>, kRetryReasons> retries{};
  std::array<std::atomic<uint64_t>, kErrorKinds> errors{};
  std::atomic<uint64_t> read_bytes{0};     // bodies received by GET / ranged GET
  std::atomic<uint64_t> written_bytes{0};  // bodies sent by PUT / part uploads
  LatencyHistogram request_duration;       // per attempt

  void Request(StoreOp op) { requests[static_cast<size_t>(op)].fetch_add(1, std::memory_order_relaxed); }
  void Retry(RetryReason r) { retries[static_cast<size_t>(r)].fetch_add(1, std::memory_order_relaxed); }
  void Error(ErrorKind k) { errors[static_cast<size_t>(k)].fetch_add(1, std::memory_order_relaxed); }
  void Read(uint64_t n) { read_bytes.fetch_add(n, std::memory_order_relaxed); }
  void Written(uint64_t n) { written_bytes.fetch_add(n, std::memory_order_relaxed); }

  uint64_t requests_of(StoreOp op) const { return requests[static_cast<size_t>(op)].load(); }
  uint64_t retries_of(RetryReason r) const { return retries[static_cast<size_t>(r)].load(); }
  uint64_t errors_of(ErrorKind k) const { return errors[static_cast<size_t>(k)].load(); }
};

// The counters of every store of `kind` in the process (never destroyed).
ObjectStoreStats& GlobalObjectStoreStats(StoreKind kind);

// The kind of a failed call's status, for stores that only have the status
// (the local one): NotFound, AlreadyExists, Unavailable; the rest "other".
ErrorKind ErrorKindOf(const Status& st);

}  // namespace frazil::objstore
