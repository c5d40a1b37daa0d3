// Result<T>: the value of an operation that can fail for an expected reason
// (a bad upload, a missing file, a host that is down), or the Error saying
// why in words an archive administrator can act on. Exceptions are kept for
// unwinding to main; everything a caller is meant to handle comes back here.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace buildme {

struct Error
{
  std::string message;
};

// Builds an Error with fmt formatting: `return fail("{}: {}", path, why);`
template<typename... Args>
Error fail(fmt::format_string<Args...> format, Args&&... args)
{
  return Error{fmt::format(format, std::forward<Args>(args)...)};
}

template<typename T>
class [[nodiscard]] Result
{
public:
  Result(T value) : m_state(std::move(value)) {}
  Result(Error error) : m_state(std::move(error)) {}

  bool ok() const { return m_state.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() &
  {
    check();
    return std::get<0>(m_state);
  }
  const T& value() const&
  {
    check();
    return std::get<0>(m_state);
  }
  T&& value() &&
  {
    check();
    return std::get<0>(std::move(m_state));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(m_state); }
  const std::string& message() const { return error().message; }

private:
  void check() const
  {
    if (!ok()) {
      throw std::logic_error("value() of a failed Result: " + error().message);
    }
  }

  std::variant<T, Error> m_state;
};

template<>
class [[nodiscard]] Result<void>
{
public:
  Result() = default;
  Result(Error error) : m_error(std::move(error)), m_failed(true) {}

  bool ok() const { return !m_failed; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return m_error; }
  const std::string& message() const { return m_error.message; }

private:
  Error m_error;
  bool m_failed = false;
};

using Status = Result<void>;

} // namespace buildme

// Propagation in one line, as in ccache. TRY(expression): when the Status or
// Result fails, the enclosing function returns its Error.
#define TRY(expression)                                                                            \
  do {                                                                                             \
    auto&& buildme_try_ = (expression);                                                            \
    if (!buildme_try_) {                                                                           \
      return ::buildme::Error{buildme_try_.error()};                                               \
    }                                                                                              \
  } while (false)

#define BUILDME_CONCAT_(a, b) a##b
#define BUILDME_CONCAT(a, b) BUILDME_CONCAT_(a, b)

// TRY_ASSIGN(declaration, expression): `declaration` (such as `auto text`)
// takes the Result's value, or the enclosing function returns its Error.
#define TRY_ASSIGN(declaration, expression)                                                        \
  auto&& BUILDME_CONCAT(buildme_try_, __LINE__) = (expression);                                    \
  if (!BUILDME_CONCAT(buildme_try_, __LINE__)) {                                                   \
    return ::buildme::Error{BUILDME_CONCAT(buildme_try_, __LINE__).error()};                       \
  }                                                                                                \
  declaration = std::move(*BUILDME_CONCAT(buildme_try_, __LINE__))
