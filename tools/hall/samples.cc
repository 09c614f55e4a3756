#include "tools/hall/samples.h"

#include <cstdio>
#include <iterator>

namespace taxhub::hall {
namespace {

// Valid unified social credit codes (GB 32100-2015 check characters).
constexpr const char* kTaxpayers[] = {"91310110666007217T", "91350100M000100Y43",
                                      "91310115591693856A"};
constexpr const char* kOffices[] = {"13212000000", "13101100000", "13501000000"};
// Each taxpayer's bank account for TIPS payments (the dev bank stand-in holds them; the third is
// nearly empty, so its payments end REJECTED with 24007) and mobile for SMS notices.
constexpr const char* kAccounts[] = {"6222000011112222", "6222000033334444", "6222000055556666"};
constexpr const char* kMobiles[] = {"13800138000", "13900139000", "13700137000"};

}  // namespace

wire::SubmitRequest SampleRequest(uint64_t n, const std::string& kind_override) {
  wire::SubmitRequest request;
  const int who = static_cast<int>(n % 3);
  request.taxpayer_id = kTaxpayers[who];
  request.attributes["tax_office"] = kOffices[who];
  request.attributes["taxpayer_type"] = who == 1 ? "small_scale" : "general";
  request.attributes["pay_account"] = kAccounts[who];
  request.attributes["mobile"] = kMobiles[who];
  static constexpr const char* kKinds[] = {
      "filing.vat",      "registration.new", "invoice.authenticate", "filing.cit",
      "refund.apply",    "payment.tax",      "invoice.purchase",     "complaint.file"};
  request.kind = kind_override.empty() ? kKinds[n % std::size(kKinds)] : kind_override;
  // Refunds above 100 000 yuan need a manager's approval; alternate below and above.
  request.attributes["amount"] = (n / std::size(kKinds)) % 2 == 0 ? "86000.00" : "152000.00";
  request.attributes["tax_due"] = "1300.00";  // payment.tax: the arrears to pay
  char body[1024];
  // A period of its own for each return (the core system refuses a second return for one).
  const uint64_t month = n / std::size(kKinds);
  char period[16];
  std::snprintf(period, sizeof period, "%04llu-%02llu", static_cast<unsigned long long>(2000 + (month / 12) % 100),
                static_cast<unsigned long long>(month % 12 + 1));
  if (request.kind.starts_with("filing.")) {
    long sales = 100000 + static_cast<long>(n % 97) * 1234;
    std::snprintf(body, sizeof body,
                  "{\"tax_type\":\"%s\",\"period\":\"%s\",\"sales\":\"%ld.00\","
                  "\"output_tax\":\"%ld.00\",\"input_tax\":\"%ld.00\",\"seq\":%llu}",
                  request.kind == "filing.cit" ? "10104" : "10101", period, sales, sales * 13 / 100,
                  sales * 9 / 100, static_cast<unsigned long long>(n));
  } else if (request.kind == "invoice.authenticate") {
    std::snprintf(body, sizeof body,
                  "{\"period\":\"%s\",\"invoices\":[{\"code\":\"3200261130\",\"number\":\"%08llu\","
                  "\"date\":\"2026-10-15\",\"amount\":\"10000.00\",\"tax\":\"1300.00\","
                  "\"seller\":\"91320200MA1MXXXX5H\"}]}",
                  period, static_cast<unsigned long long>(n % 100000000));
  } else if (request.kind == "registration.new") {
    std::snprintf(body, sizeof body,
                  "{\"name\":\"泰州示范企业%llu有限公司\",\"legal_person\":\"张三\","
                  "\"address\":\"江苏省泰州市海陵区\",\"industry\":\"5191\",\"tax_types\":[\"10101\",\"10104\"]}",
                  static_cast<unsigned long long>(n));
  } else {
    std::snprintf(body, sizeof body, "{\"service\":\"%s\",\"seq\":%llu}", request.kind.c_str(),
                  static_cast<unsigned long long>(n));
  }
  request.body = body;
  return request;
}

Result<PkiSigner> PkiSigner::Load(const std::string& dir, const std::string& algorithm) {
  if (!algorithm.empty() && algorithm != "sm2" && algorithm != "ecdsa") {
    return Error(ErrorCode::kBadRequest, "the algorithm must be sm2 or ecdsa", "algorithm");
  }
  PkiSigner signer;
  for (const char* taxpayer : kTaxpayers) {
    for (const char* type : {"sm2", "ecdsa"}) {
      if (!algorithm.empty() && algorithm != type) continue;
      const std::string stem = dir + "/taxpayers/" + taxpayer + "." + type;
      auto key = security::PrivateKey::LoadPemFile(stem + ".key");
      if (!key) return Error(key.error());
      auto certs = security::Certificate::LoadPemFile(stem + ".pem");
      if (!certs) return Error(certs.error());
      signer.identities_[taxpayer].push_back(Identity{*key, certs->front().ToDer()});
    }
  }
  return signer;
}

Status PkiSigner::Sign(wire::SubmitRequest& request, uint64_t n) const {
  auto it = identities_.find(request.taxpayer_id);
  if (it == identities_.end()) {
    return Status(ErrorCode::kNotFound, "no demo key for taxpayer " + request.taxpayer_id);
  }
  const Identity& identity = it->second[n % it->second.size()];
  auto signature = identity.key.Sign(request.body);
  if (!signature) return signature.error();
  request.signature = std::move(*signature);
  request.certificate = identity.certificate_der;
  return Status::Ok();
}

Status SignWith(wire::SubmitRequest& request, const std::string& key_file,
                const std::string& cert_file) {
  auto key = security::PrivateKey::LoadPemFile(key_file);
  if (!key) return key.error();
  auto certs = security::Certificate::LoadPemFile(cert_file);
  if (!certs) return certs.error();
  auto signature = key->Sign(request.body);
  if (!signature) return signature.error();
  request.signature = std::move(*signature);
  request.certificate = certs->front().ToDer();
  return Status::Ok();
}

}  // namespace taxhub::hall
