// Status and Result: errors travel as values across layer boundaries.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace frazil {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kOutOfRange,
  kCorruption,
  kIoError,
  kWalFull,
  kClosed,
  kUnavailable,
  kInternal,
  // A catalog commit lost a race: the table changed under it. Safe to retry.
  kCommitConflict,
  // A commit's outcome is not known (timeout, lost connection): the new
  // metadata may or may not be current, so nothing it wrote may be deleted.
  kCommitStateUnknown,
  // Temporarily out of room (e.g. a WAL full because its table cannot be
  // committed); the same request may succeed later.
  kResourceExhausted,
  // The request is understood but Frazil does not implement it (yet).
  kUnimplemented,
  // The request is valid but the state it needs does not hold (e.g. a
  // schema the topic's table cannot take, an operation that needs a cluster).
  kFailedPrecondition,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status OutOfRange(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status WalFull(std::string m) { return {StatusCode::kWalFull, std::move(m)}; }
  static Status Closed(std::string m) { return {StatusCode::kClosed, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status CommitConflict(std::string m) { return {StatusCode::kCommitConflict, std::move(m)}; }
  static Status CommitStateUnknown(std::string m) { return {StatusCode::kCommitStateUnknown, std::move(m)}; }
  static Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
  static Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
  static Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
  // An I/O failure described by errno, e.g. IoErrorFromErrno("write", path, EIO);
  // ENOSPC and EDQUOT are kResourceExhausted (retryable once space is freed).
  static Status IoErrorFromErrno(std::string_view what, std::string_view path, int err);

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

  // Prefixes the message with context, keeping the code.
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "Result built from an OK status carries no value");
    if (status_.ok()) status_ = Status::Internal("Result built from an OK status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  // By value, so that `for (x : F().value())` does not dangle.
  T value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace frazil

#define FRAZIL_CONCAT_INNER(a, b) a##b
#define FRAZIL_CONCAT(a, b) FRAZIL_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if it is not OK.
#define FRAZIL_RETURN_IF_ERROR(expr)         \
  do {                                       \
    ::frazil::Status _frazil_st = (expr);    \
    if (!_frazil_st.ok()) return _frazil_st; \
  } while (0)

#define FRAZIL_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()

// `FRAZIL_ASSIGN_OR_RETURN(auto x, Foo());` binds x or returns Foo()'s error.
#define FRAZIL_ASSIGN_OR_RETURN(lhs, expr) \
  FRAZIL_ASSIGN_OR_RETURN_IMPL(FRAZIL_CONCAT(_frazil_res_, __LINE__), lhs, expr)
