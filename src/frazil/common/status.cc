#include "frazil/common/status.h"

#include <cerrno>
#include <cstring>

namespace frazil {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kInvalidArgument:
      return "InvalidArgument";
    case StatusCode::kNotFound:
      return "NotFound";
    case StatusCode::kAlreadyExists:
      return "AlreadyExists";
    case StatusCode::kOutOfRange:
      return "OutOfRange";
    case StatusCode::kCorruption:
      return "Corruption";
    case StatusCode::kIoError:
      return "IoError";
    case StatusCode::kWalFull:
      return "WalFull";
    case StatusCode::kClosed:
      return "Closed";
    case StatusCode::kUnavailable:
      return "Unavailable";
    case StatusCode::kInternal:
      return "Internal";
    case StatusCode::kCommitConflict:
      return "CommitConflict";
    case StatusCode::kCommitStateUnknown:
      return "CommitStateUnknown";
    case StatusCode::kResourceExhausted:
      return "ResourceExhausted";
    case StatusCode::kUnimplemented:
      return "Unimplemented";
    case StatusCode::kFailedPrecondition:
      return "FailedPrecondition";
  }
  return "Unknown";
}

Status Status::IoErrorFromErrno(std::string_view what, std::string_view path, int err) {
  std::string m(what);
  if (!path.empty()) {
    m += " ";
    m += path;
  }
  m += ": ";
  m += std::strerror(err);
  // Out of space is temporary: the same write succeeds once space is freed,
  // so callers (and clients) may retry it.
  if (err == ENOSPC || err == EDQUOT) return Status::ResourceExhausted(std::move(m));
  return Status::IoError(std::move(m));
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s(StatusCodeName(code_));
  s += ": ";
  s += message_;
  return s;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string m(context);
  m += ": ";
  m += message_;
  return Status(code_, std::move(m));
}

}  // namespace frazil
