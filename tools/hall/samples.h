// Sample applications for dev mode, the demo and load: realistic kinds, taxpayers and bodies.
#ifndef TAXHUB_TOOLS_HALL_SAMPLES_H_
#define TAXHUB_TOOLS_HALL_SAMPLES_H_

#include <cstdint>
#include <string>

#include <map>
#include <vector>

#include "gen-cpp/taxhub_types.h"
#include "hub/base/status.h"
#include "hub/security/crypto.h"

namespace taxhub::hall {

// The n-th sample application: cycles through the hall's services (VAT returns, registration,
// invoice authentication, refunds, payments, complaints …) across a few taxpayers with valid
// unified social credit codes and their tax offices.
wire::SubmitRequest SampleRequest(uint64_t n, const std::string& kind_override = "");

// Signs requests with the demo PKI that `taxhub dev` writes (var/dev/pki): the n-th request
// alternately with the taxpayer's SM2 and ECDSA key.
class PkiSigner {
 public:
  // `algorithm` "sm2" or "ecdsa" loads only those keys; "" both (taken in turn).
  static Result<PkiSigner> Load(const std::string& dir, const std::string& algorithm = "");
  Status Sign(wire::SubmitRequest& request, uint64_t n) const;

 private:
  struct Identity {
    security::PrivateKey key;
    std::string certificate_der;
  };
  std::map<std::string, std::vector<Identity>> identities_;  // taxpayer -> [sm2, ecdsa]
};

// Signs with one key and certificate (PEM files).
Status SignWith(wire::SubmitRequest& request, const std::string& key_file,
                const std::string& cert_file);

}  // namespace taxhub::hall

#endif  // TAXHUB_TOOLS_HALL_SAMPLES_H_
