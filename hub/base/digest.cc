#include "hub/base/digest.h"

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <stdexcept>

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

std::string Sha256Hex(std::initializer_list<std::string_view> parts) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL SHA-256 unavailable");
  }
  for (std::string_view part : parts) {
    uint64_t n = part.size();
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (56 - 8 * i));
    EVP_DigestUpdate(ctx.get(), len, sizeof len);
    EVP_DigestUpdate(ctx.get(), part.data(), part.size());
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &md_len);
  return HexEncode(std::string_view(reinterpret_cast<char*>(md), md_len));
}

}  // namespace taxhub
