// taxhubctl: the admin endpoint's operations from the command line.
//   taxhubctl token --role operator|manager|staff|auditor --user NAME
//       [--config hub.yaml | --key admin-token.key [--issuer taxhub] [--audience taxhub-admin]]
//       [--ttl SECONDS]
// prints a bearer token for the admin endpoint, signed with the hub's admin token key (the
// private key; the hub itself may hold only the public one).

#include <iostream>
#include <map>
#include <string>

#include "hub/admin/tokens.h"
#include "hub/app/config.h"
#include "hub/base/clock.h"

namespace {

int Usage() {
  std::cerr << "usage: taxhubctl token --role operator|manager|staff|auditor --user NAME\n"
               "           [--config hub.yaml | --key FILE [--issuer I] [--audience A]] [--ttl SECONDS]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace taxhub;
  if (argc < 2 || std::string(argv[1]) != "token") return Usage();
  std::map<std::string, std::string> flags;
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag.rfind("--", 0) != 0 || i + 1 >= argc) return Usage();
    flags[flag.substr(2)] = argv[++i];
  }
  auto get = [&](const std::string& key, const std::string& fallback = "") {
    auto it = flags.find(key);
    return it == flags.end() ? fallback : it->second;
  };
  auto role = admin::ParseRole(get("role"));
  const std::string user = get("user");
  if (!role || user.empty()) return Usage();
  std::string key_file = get("key");
  std::string issuer = get("issuer", "taxhub");
  std::string audience = get("audience", "taxhub-admin");
  if (flags.contains("config")) {
    auto config = app::LoadHubConfig(get("config"));
    if (!config) {
      std::cerr << "taxhubctl: " << config.error().message() << "\n";
      return 1;
    }
    if (!config->admin.enabled) {
      std::cerr << "taxhubctl: " << get("config") << " has no admin section\n";
      return 1;
    }
    key_file = config->admin.token_key;
    issuer = config->admin.token_issuer;
    audience = config->admin.token_audience;
  }
  if (key_file.empty()) return Usage();
  long long ttl_s = 0;
  try {
    ttl_s = std::stoll(get("ttl", "28800"));
  } catch (const std::exception&) {
    return Usage();
  }
  if (ttl_s < 1 || ttl_s > 31 * 86400) {
    std::cerr << "taxhubctl: --ttl must be 1 s to 31 days\n";
    return 2;
  }
  auto key = admin::TokenKey::Load(key_file, issuer, audience);
  if (!key) {
    std::cerr << "taxhubctl: " << key.error().ToString() << "\n";
    return 1;
  }
  auto token = key->Issue({user, *role}, SystemClock().NowMs(), ttl_s * 1000);
  if (!token) {
    std::cerr << "taxhubctl: " << token.error().ToString() << "\n";
    return 1;
  }
  std::cout << *token << "\n";
  return 0;
}
