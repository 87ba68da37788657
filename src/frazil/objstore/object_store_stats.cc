#include "frazil/objstore/object_store_stats.h"

namespace frazil::objstore {

const char* StoreKindName(StoreKind kind) { return kind == StoreKind::kS3 ? "s3" : "local"; }

const char* StoreOpName(StoreOp op) {
  switch (op) {
    case StoreOp::kGet:
      return "get";
    case StoreOp::kGetRange:
      return "get_range";
    case StoreOp::kHead:
      return "head";
    case StoreOp::kPut:
      return "put";
    case StoreOp::kCreateMultipart:
      return "create_multipart";
    case StoreOp::kUploadPart:
      return "upload_part";
    case StoreOp::kCompleteMultipart:
      return "complete_multipart";
    case StoreOp::kAbortMultipart:
      return "abort_multipart";
    case StoreOp::kDelete:
      return "delete";
    case StoreOp::kDeleteBatch:
      return "delete_batch";
    case StoreOp::kList:
      return "list";
    case StoreOp::kHeadBucket:
      return "head_bucket";
    case StoreOp::kOther:
      return "other";
  }
  return "other";
}

const char* RetryReasonName(RetryReason reason) {
  switch (reason) {
    case RetryReason::kServerError:
      return "server_error";
    case RetryReason::kThrottled:
      return "throttled";
    case RetryReason::kTimeout:
      return "timeout";
    case RetryReason::kConnection:
      return "connection";
  }
  return "connection";
}

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kUnavailable:
      return "unavailable";
    case ErrorKind::kNotFound:
      return "not_found";
    case ErrorKind::kDenied:
      return "denied";
    case ErrorKind::kConflict:
      return "conflict";
    case ErrorKind::kOther:
      return "other";
  }
  return "other";
}

ObjectStoreStats& GlobalObjectStoreStats(StoreKind kind) {
  static ObjectStoreStats* stats = new ObjectStoreStats[kStoreKinds];
  return stats[static_cast<size_t>(kind)];
}

ErrorKind ErrorKindOf(const Status& st) {
  switch (st.code()) {
    case StatusCode::kNotFound:
      return ErrorKind::kNotFound;
    case StatusCode::kAlreadyExists:
      return ErrorKind::kConflict;
    case StatusCode::kUnavailable:
      return ErrorKind::kUnavailable;
    default:
      return ErrorKind::kOther;
  }
}

}  // namespace frazil::objstore
