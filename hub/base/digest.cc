#include "hub/base/digest.h"

#include <openssl/evp.h>

#include <cstdint>
#include <memory>

namespace taxhub {

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}

namespace {

// Fetched once: OpenSSL 3 looks an algorithm up in its provider store (under a lock) each
// time EVP_sha256() is passed to an init, and the ledger hashes every event it appends.
const EVP_MD* Algorithm(std::string_view name) {
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  static EVP_MD* const sm3 = EVP_MD_fetch(nullptr, "SM3", nullptr);
  return name == "sha256" ? sha256 : name == "sm3" ? sm3 : nullptr;
}

}  // namespace

Result<std::string> DigestHex(std::string_view algorithm,
                              std::initializer_list<std::string_view> parts) {
  const EVP_MD* md = Algorithm(algorithm);
  if (!md) {
    if (algorithm == "sha256" || algorithm == "sm3") return Error(ErrorCode::kInternal, "OpenSSL digest unavailable");
    return Error(ErrorCode::kBadRequest, "hash must be sha256 or sm3", "ledger.hash");
  }
  // One context per thread, reset by each init.
  thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1) {
    return Error(ErrorCode::kInternal, "OpenSSL digest unavailable");
  }
  for (std::string_view part : parts) {
    uint64_t n = part.size();
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (56 - 8 * i));
    EVP_DigestUpdate(ctx.get(), len, sizeof len);
    EVP_DigestUpdate(ctx.get(), part.data(), part.size());
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), out, &out_len) != 1) return Error(ErrorCode::kInternal, "OpenSSL digest failed");
  return HexEncode(std::string_view(reinterpret_cast<char*>(out), out_len));
}

std::string Sha256Hex(std::initializer_list<std::string_view> parts) {
  return *DigestHex("sha256", parts);  // SHA-256 is always there
}

}  // namespace taxhub
