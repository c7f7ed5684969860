// Result<T>: a value or an Error, the way library code reports failure without exceptions.
// Exceptions appear only at the API boundary (tools, bindings), which unwrap with value_or_throw().
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace kvjit {

// Broad category so callers can react (the CLI maps usage errors to exit code 2) without parsing text.
enum class ErrorKind { invalid_spec, invalid_argument, compile_failed, io, driver, not_found, internal };

struct Error {
  ErrorKind kind = ErrorKind::internal;
  std::string message;
};

class KvjitError : public std::runtime_error {
 public:
  explicit KvjitError(Error e) : std::runtime_error(e.message), error_(std::move(e)) {}
  const Error& error() const { return error_; }

 private:
  Error error_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const { return std::get<1>(v_); }

  T value_or_throw() && {
    if (!ok()) throw KvjitError(error());
    return std::get<0>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

// Result<void> equivalent.
struct Ok {};
using Status = Result<Ok>;

inline Error make_error(ErrorKind kind, std::string message) { return Error{kind, std::move(message)}; }

}  // namespace kvjit

// Propagates an error from an expression yielding Result<...>; evaluates to nothing.
#define KVJIT_TRY(expr)                               \
  do {                                                \
    auto kvjit_try_result_ = (expr);                  \
    if (!kvjit_try_result_.ok()) return kvjit_try_result_.error(); \
  } while (0)
