// A TIPS CFX message from the bank: the input is the message itself (GBK XML), signed here with
// the harness's own key so that the parser behind the signature check is reached — malformed XML,
// entities, missing HEAD fields, bytes that are not GBK must be errors, never a crash and never
// an external entity loaded.
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "adapters/tips/cfx.h"
#include "hub/security/crypto.h"

namespace {

struct Signer {
  std::unique_ptr<taxhub::security::PrivateKey> key;
  std::unique_ptr<taxhub::security::Certificate> cert;
};

Signer& TheSigner() {
  static Signer signer = [] {
    using namespace taxhub::security;
    Signer s;
    auto key = PrivateKey::Generate(KeyType::kEcdsaP256);  // fast enough to sign every input
    if (!key) __builtin_trap();
    CertificateSpec spec{"fuzz bank", "", "fuzz", 1, 0, int64_t{4'000'000'000'000}, false, true};
    auto cert = IssueCertificate(spec, *key, *key, nullptr);
    if (!cert) __builtin_trap();
    s.key = std::make_unique<PrivateKey>(*key);
    s.cert = std::make_unique<Certificate>(*cert);
    return s;
  }();
  return signer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Signer& signer = TheSigner();
  std::string message(reinterpret_cast<const char*>(data), size);
  if (message.size() < 6 || message.compare(message.size() - 6, 6, "</CFX>") != 0) message += "</CFX>";
  auto signature = signer.key->Sign(message);
  if (!signature) return 0;
  std::string base64(4 * ((signature->size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(base64.data()),
                                reinterpret_cast<const unsigned char*>(signature->data()),
                                static_cast<int>(signature->size()));
  base64.resize(static_cast<size_t>(n));
  auto decoded = taxhub::tips::DecodeCfx(message + "<!--SIGN:" + base64 + "-->", *signer.cert);
  if (decoded && decoded->src.empty() && decoded->msg_no.empty()) __builtin_trap();  // HEAD is checked
  return 0;
}
