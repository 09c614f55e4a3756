#include "hub/base/status.h"

namespace taxhub {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "OK";
    case ErrorCode::kBadRequest: return "BAD_REQUEST";
    case ErrorCode::kMissingField: return "MISSING_FIELD";
    case ErrorCode::kDecodeError: return "DECODE_ERROR";
    case ErrorCode::kTooLarge: return "TOO_LARGE";
    case ErrorCode::kUnknownService: return "UNKNOWN_SERVICE";
    case ErrorCode::kUnknownKind: return "UNKNOWN_KIND";
    case ErrorCode::kConflict: return "CONFLICT";
    case ErrorCode::kNotFound: return "NOT_FOUND";
    case ErrorCode::kUnavailable: return "UNAVAILABLE";
    case ErrorCode::kTimeout: return "TIMEOUT";
    case ErrorCode::kProtocolError: return "PROTOCOL_ERROR";
    case ErrorCode::kInternal: return "INTERNAL";
    case ErrorCode::kTaken: return "TAKEN";
    case ErrorCode::kBadSignature: return "BAD_SIGNATURE";
    case ErrorCode::kCertExpired: return "CERT_EXPIRED";
    case ErrorCode::kCertRevoked: return "CERT_REVOKED";
    case ErrorCode::kUntrustedCert: return "UNTRUSTED_CERT";
    case ErrorCode::kSignerMismatch: return "SIGNER_MISMATCH";
    case ErrorCode::kBadTaxpayerId: return "BAD_TAXPAYER_ID";
    case ErrorCode::kUnauthenticated: return "UNAUTHENTICATED";
    case ErrorCode::kForbidden: return "FORBIDDEN";
  }
  return "UNKNOWN";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(ErrorCodeName(code_));
  out += ": ";
  out += message_;
  if (!field_.empty()) {
    out += " (field ";
    out += field_;
    out += ")";
  }
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string message(context);
  message += ": ";
  message += message_;
  return Status(code_, std::move(message), field_);
}

}  // namespace taxhub
