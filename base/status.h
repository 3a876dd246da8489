// Errors as values at module boundaries (LevelDB's Status, Abseil's StatusOr).
// A Status is OK, or a code and a message: callers decide by the code (an HTTP
// server answers 404 for NotFound and 500 for IoError), people read the message.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ctflow {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the input is wrong: a workflow, a parameter, a request
  kNotFound,            // what was asked for does not exist
  kAlreadyExists,       // what was to be created exists
  kFailedPrecondition,  // the system is not in the state the call needs
  kIoError,             // a file, the database, or the network failed
  kCancelled,           // the caller or a signal stopped it
  kInternal,            // anything else: a bug, an unexpected failure
};

// "NotFound", "IoError", ...: for logs and JSON.
constexpr std::string_view status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "Ok";
    case StatusCode::kInvalidArgument: return "InvalidArgument";
    case StatusCode::kNotFound: return "NotFound";
    case StatusCode::kAlreadyExists: return "AlreadyExists";
    case StatusCode::kFailedPrecondition: return "FailedPrecondition";
    case StatusCode::kIoError: return "IoError";
    case StatusCode::kCancelled: return "Cancelled";
    case StatusCode::kInternal: return "Internal";
  }
  return "Internal";
}

class Status {
 public:
  Status() = default;  // OK
  static Status Ok() { return Status(); }
  // An error without a more precise code.
  static Status Error(std::string message) { return Status(StatusCode::kInternal, std::move(message)); }
  static Status InvalidArgument(std::string message) { return Status(StatusCode::kInvalidArgument, std::move(message)); }
  static Status NotFound(std::string message) { return Status(StatusCode::kNotFound, std::move(message)); }
  static Status AlreadyExists(std::string message) { return Status(StatusCode::kAlreadyExists, std::move(message)); }
  static Status FailedPrecondition(std::string message) {
    return Status(StatusCode::kFailedPrecondition, std::move(message));
  }
  static Status IoError(std::string message) { return Status(StatusCode::kIoError, std::move(message)); }
  static Status Cancelled(std::string message) { return Status(StatusCode::kCancelled, std::move(message)); }
  static Status Internal(std::string message) { return Status(StatusCode::kInternal, std::move(message)); }
  // An error with the given code; StatusCode::kOk gives Internal (an error needs a code).
  static Status WithCode(StatusCode code, std::string message) {
    return Status(code == StatusCode::kOk ? StatusCode::kInternal : code, std::move(message));
  }

  bool ok() const { return !message_.has_value(); }
  explicit operator bool() const { return ok(); }
  StatusCode code() const { return code_; }
  bool is_not_found() const { return code_ == StatusCode::kNotFound; }
  const std::string& message() const {
    static const std::string kEmpty;
    return message_ ? *message_ : kEmpty;
  }

 private:
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  StatusCode code_ = StatusCode::kOk;
  std::optional<std::string> message_;
};

// A value or the Status that explains why there is none.
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}             // NOLINT: implicit by design
  Result(Status error) : v_(std::move(error)) {}        // NOLINT: must not be ok
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  Status status() const { return ok() ? Status::Ok() : std::get<1>(v_); }
  StatusCode code() const { return ok() ? StatusCode::kOk : std::get<1>(v_).code(); }
  const std::string& message() const {
    static const std::string kEmpty;
    return ok() ? kEmpty : std::get<1>(v_).message();
  }

 private:
  std::variant<T, Status> v_;
};

}  // namespace ctflow
