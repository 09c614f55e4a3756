// Status and Result<T>: how errors cross interfaces in taxhub.
//
// A Status carries a code, a readable message and, when the error is about one input field,
// the name of that field. Library exceptions (zmq, Thrift, pqxx, Poco) are caught in the one
// file that calls the library and turned into a Status there.
#ifndef TAXHUB_HUB_BASE_STATUS_H_
#define TAXHUB_HUB_BASE_STATUS_H_

#include <string>
#include <string_view>
#include <utility>

#include "hub/base/expected.h"

namespace taxhub {

// Values match taxhub.thrift's ErrorCode so that the wire mapping is a cast.
enum class ErrorCode : int {
  kOk = 0,
  kBadRequest = 1,
  kMissingField = 2,
  kDecodeError = 3,
  kTooLarge = 4,
  kUnknownService = 5,
  kUnknownKind = 6,
  kConflict = 7,
  kNotFound = 8,
  kUnavailable = 9,
  kTimeout = 10,
  kProtocolError = 11,
  kInternal = 12,
  kTaken = 13,
  kBadSignature = 14,
  kCertExpired = 15,
  kCertRevoked = 16,
  kUntrustedCert = 17,
  kSignerMismatch = 18,
  kBadTaxpayerId = 19,
  kUnauthenticated = 20,  // no valid credentials (admin endpoint: 401)
  kForbidden = 21,        // valid, but not allowed (403)
};

std::string_view ErrorCodeName(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(ErrorCode code, std::string message, std::string field = {})
      : code_(code), message_(std::move(message)), field_(std::move(field)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& field() const { return field_; }

  // "CONFLICT: request id reused with another body (field request_id)".
  std::string ToString() const;

  // Returns a copy whose message is prefixed by `context: `.
  Status WithContext(std::string_view context) const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
  std::string field_;
};

template <typename T>
using Result = Expected<T, Status>;

inline Unexpected<Status> Error(ErrorCode code, std::string message, std::string field = {}) {
  return Unexpected<Status>(Status(code, std::move(message), std::move(field)));
}
inline Unexpected<Status> Error(Status status) { return Unexpected<Status>(std::move(status)); }

namespace internal {
// Converts to Status or to any Result<T>, so one macro serves functions returning either.
struct Propagate {
  Status status;
  operator Status() && { return std::move(status); }
  template <typename T>
  operator Result<T>() && {
    return Unexpected<Status>(std::move(status));
  }
};
}  // namespace internal

}  // namespace taxhub

// Returns early from the enclosing function (returning Status or Result<T>) when `expr`, a
// Status, is not OK.
#define TAXHUB_RETURN_IF_ERROR(expr)                                             \
  do {                                                                           \
    ::taxhub::Status taxhub_status_ = (expr);                                    \
    if (!taxhub_status_.ok())                                                    \
      return ::taxhub::internal::Propagate{std::move(taxhub_status_)};           \
  } while (0)

#endif  // TAXHUB_HUB_BASE_STATUS_H_
