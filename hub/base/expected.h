// Expected<T, E>: a value or an error, the part of C++23's std::expected this code uses. Ours
// because libstdc++ 12 offers std::expected only to compilers that report C++20 concepts in
// full, which Debian 12's clang (the fuzzing compiler, -fsanitize=fuzzer) does not.
#ifndef TAXHUB_HUB_BASE_EXPECTED_H_
#define TAXHUB_HUB_BASE_EXPECTED_H_

#include <cstdlib>
#include <type_traits>
#include <utility>
#include <variant>

namespace taxhub {

template <typename E>
class Unexpected {
 public:
  template <typename G = E>
    requires std::is_constructible_v<E, G>
  explicit Unexpected(G&& error) : error_(std::forward<G>(error)) {}

  const E& error() const& { return error_; }
  E& error() & { return error_; }
  E&& error() && { return std::move(error_); }

 private:
  E error_;
};

template <typename E>
Unexpected(E) -> Unexpected<E>;

template <typename T, typename E>
class Expected;

namespace internal {
template <typename U>
struct IsExpectedOrUnexpected : std::false_type {};
template <typename T, typename E>
struct IsExpectedOrUnexpected<Expected<T, E>> : std::true_type {};
template <typename E>
struct IsExpectedOrUnexpected<Unexpected<E>> : std::true_type {};
}  // namespace internal

template <typename T, typename E>
class Expected {
 public:
  using value_type = T;
  using error_type = E;

  Expected()
    requires std::is_default_constructible_v<T>
      : state_(std::in_place_index<0>) {}

  // A value, from anything T is made from (implicitly where T converts implicitly).
  template <typename U = T>
    requires(std::is_constructible_v<T, U> &&
             !internal::IsExpectedOrUnexpected<std::remove_cvref_t<U>>::value &&
             !std::is_same_v<std::remove_cvref_t<U>, std::in_place_t>)
  explicit(!std::is_convertible_v<U, T>) Expected(U&& value) : state_(std::in_place_index<0>, std::forward<U>(value)) {}

  // An error.
  template <typename G>
    requires std::is_constructible_v<E, const G&>
  Expected(const Unexpected<G>& error) : state_(std::in_place_index<1>, error.error()) {}
  template <typename G>
    requires std::is_constructible_v<E, G>
  Expected(Unexpected<G>&& error) : state_(std::in_place_index<1>, std::move(error).error()) {}

  // From another Expected whose value converts (unique_ptr<Derived> to unique_ptr<Base>).
  template <typename U, typename G>
    requires(!std::is_same_v<U, T> && std::is_constructible_v<T, U> && std::is_constructible_v<E, G>)
  explicit(!std::is_convertible_v<U, T> || !std::is_convertible_v<G, E>) Expected(Expected<U, G>&& other)
      : state_(other.has_value() ? State(std::in_place_index<0>, std::move(*other))
                                 : State(std::in_place_index<1>, std::move(other).error())) {}

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  const T& operator*() const& { return std::get<0>(state_); }
  T& operator*() & { return std::get<0>(state_); }
  T&& operator*() && { return std::get<0>(std::move(state_)); }
  const T* operator->() const { return &std::get<0>(state_); }
  T* operator->() { return &std::get<0>(state_); }

  // The value; asking an error for its value is a bug, and ends the process.
  const T& value() const& { return Checked(), std::get<0>(state_); }
  T& value() & { return Checked(), std::get<0>(state_); }
  T&& value() && { return Checked(), std::get<0>(std::move(state_)); }

  template <typename U>
    requires std::is_convertible_v<U, T>
  T value_or(U&& fallback) const& {
    return has_value() ? std::get<0>(state_) : static_cast<T>(std::forward<U>(fallback));
  }
  template <typename U>
    requires std::is_convertible_v<U, T>
  T value_or(U&& fallback) && {
    return has_value() ? std::get<0>(std::move(state_)) : static_cast<T>(std::forward<U>(fallback));
  }

  const E& error() const& { return std::get<1>(state_); }
  E& error() & { return std::get<1>(state_); }
  E&& error() && { return std::get<1>(std::move(state_)); }

 private:
  using State = std::variant<T, E>;
  void Checked() const {
    if (!has_value()) std::abort();
  }

  State state_;
};

}  // namespace taxhub

#endif  // TAXHUB_HUB_BASE_EXPECTED_H_
