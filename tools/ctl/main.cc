// taxhubctl: the admin endpoint's operations from the command line.
//
//   taxhubctl token --role operator|manager|staff|auditor --user NAME
//       [--config hub.yaml | --key FILE [--issuer I] [--audience A]] [--ttl SECONDS]
//     prints a bearer token signed with the admin token key (the private key).
//
//   taxhubctl [--url http://127.0.0.1:8080] [--token T] [--ca FILE | --insecure] COMMAND …
//     (the token may also come from $TAXHUB_TOKEN)
//     requests [--taxpayer T] [--kind K] [--state S] [--overdue] [--limit N] [--cursor C]
//     request ID                    one request's stages and timeline
//     tasks --queue Q               claim TASK | complete TASK --decision approve|reject|return [--reason R]
//     assign TASK --staff NAME      adapters | dead-letters | replay ID | discard ID --reason R
//     reload-routes
//     verify-ledger                 report-staff [--from MS] [--to MS]
//   prints the endpoint's JSON answer; exits 0 on success, 1 with the error otherwise.

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "hub/admin/tokens.h"
#include "hub/app/config.h"
#include "hub/base/clock.h"

namespace {

using namespace taxhub;

int Usage() {
  std::cerr << "usage: taxhubctl token --role operator|manager|staff|auditor --user NAME\n"
               "           [--config hub.yaml | --key FILE [--issuer I] [--audience A]] [--ttl SECONDS]\n"
               "       taxhubctl [--url URL] [--token T] [--ca FILE | --insecure] COMMAND …\n"
               "         requests [--taxpayer T] [--kind K] [--state S] [--overdue] [--limit N] [--cursor C]\n"
               "         request ID | tasks --queue Q | claim TASK | assign TASK --staff NAME\n"
               "         complete TASK --decision approve|reject|return [--reason R]\n"
               "         adapters | dead-letters | replay ID | discard ID --reason R | reload-routes | verify-ledger\n"
               "         report-staff [--from MS] [--to MS]\n";
  return 2;
}

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;
  std::string Get(const std::string& key, const std::string& fallback = "") const {
    auto it = flags.find(key);
    return it == flags.end() ? fallback : it->second;
  }
};

bool Parse(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--overdue" || a == "--insecure") {
      args.flags[a.substr(2)] = "1";
    } else if (a.rfind("--", 0) == 0) {
      if (i + 1 >= argc) return false;
      args.flags[a.substr(2)] = argv[++i];
    } else {
      args.positional.push_back(a);
    }
  }
  return !args.positional.empty();
}

int Token(const Args& args) {
  auto role = admin::ParseRole(args.Get("role"));
  const std::string user = args.Get("user");
  if (!role || user.empty()) return Usage();
  std::string key_file = args.Get("key");
  std::string issuer = args.Get("issuer", "taxhub");
  std::string audience = args.Get("audience", "taxhub-admin");
  if (args.flags.contains("config")) {
    auto config = app::LoadHubConfig(args.Get("config"));
    if (!config) {
      std::cerr << "taxhubctl: " << config.error().message() << "\n";
      return 1;
    }
    if (!config->admin.enabled) {
      std::cerr << "taxhubctl: " << args.Get("config") << " has no admin section\n";
      return 1;
    }
    key_file = config->admin.token_key;
    issuer = config->admin.token_issuer;
    audience = config->admin.token_audience;
  }
  if (key_file.empty()) return Usage();
  long long ttl_s = 0;
  try {
    ttl_s = std::stoll(args.Get("ttl", "28800"));
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

std::string Encode(const std::string& text) {
  std::string out;
  Poco::URI::encode(text, "/?#&=+:", out);
  return out;
}

// The method, path and body of an API command; false for a command that is not one.
bool Request(const Args& args, std::string& method, std::string& path, std::string& body) {
  const auto& p = args.positional;
  const std::string& command = p[0];
  auto one = [&](const std::string& prefix, const std::string& suffix) {
    if (p.size() != 2) return false;
    path = prefix + Encode(p[1]) + suffix;
    return true;
  };
  auto json = [](std::initializer_list<std::pair<const char*, std::string>> fields) {
    Poco::JSON::Object o;
    for (const auto& [k, v] : fields) {
      if (!v.empty()) o.set(k, v);
    }
    std::ostringstream out;
    o.stringify(out);
    return out.str();
  };
  method = "GET";
  if (command == "requests" && p.size() == 1) {
    path = "/api/v1/requests?limit=" + Encode(args.Get("limit", "50"));
    for (const char* f : {"taxpayer", "kind", "state", "cursor"}) {
      if (args.flags.contains(f)) path += std::string("&") + f + "=" + Encode(args.Get(f));
    }
    if (args.flags.contains("overdue")) path += "&overdue=1";
    return true;
  }
  if (command == "request") return one("/api/v1/requests/", "");
  if (command == "tasks" && p.size() == 1 && args.flags.contains("queue")) {
    path = "/api/v1/tasks?queue=" + Encode(args.Get("queue"));
    return true;
  }
  if (command == "adapters" && p.size() == 1) return path = "/api/v1/adapters", true;
  if (command == "dead-letters" && p.size() == 1) return path = "/api/v1/dead-letters", true;
  if (command == "report-staff" && p.size() == 1) {
    path = "/api/v1/reports/staff";
    if (args.flags.contains("from")) path += "?from=" + Encode(args.Get("from"));
    if (args.flags.contains("to")) path += std::string(args.flags.contains("from") ? "&" : "?") + "to=" + Encode(args.Get("to"));
    return true;
  }
  method = "POST";
  if (command == "claim") return one("/api/v1/tasks/", "/claim");
  if (command == "complete" && args.flags.contains("decision")) {
    body = json({{"decision", args.Get("decision")}, {"reason", args.Get("reason")}});
    return one("/api/v1/tasks/", "/complete");
  }
  if (command == "assign" && args.flags.contains("staff")) {
    body = json({{"staff", args.Get("staff")}});
    return one("/api/v1/tasks/", "/assign");
  }
  if (command == "replay") return one("/api/v1/dead-letters/", "/replay");
  if (command == "discard" && args.flags.contains("reason")) {
    body = json({{"reason", args.Get("reason")}});
    return one("/api/v1/dead-letters/", "/discard");
  }
  if (command == "reload-routes" && p.size() == 1) return path = "/api/v1/routes/reload", true;
  if (command == "verify-ledger" && p.size() == 1) return path = "/api/v1/ledger/verify", true;
  return false;
}

int Call(const Args& args) {
  std::string method, path, body;
  if (!Request(args, method, path, body)) return Usage();
  std::string token = args.Get("token");
  if (token.empty() && std::getenv("TAXHUB_TOKEN")) token = std::getenv("TAXHUB_TOKEN");
  if (token.empty()) {
    std::cerr << "taxhubctl: a token is needed (--token or TAXHUB_TOKEN; taxhubctl token makes one)\n";
    return 2;
  }
  try {
    const Poco::URI url(args.Get("url", "http://127.0.0.1:8080"));
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (url.getScheme() == "https") {
      Poco::Net::Context::Ptr context = new Poco::Net::Context(
          Poco::Net::Context::TLS_CLIENT_USE, "", "", args.Get("ca"),
          args.flags.contains("insecure") ? Poco::Net::Context::VERIFY_NONE : Poco::Net::Context::VERIFY_RELAXED, 9,
          args.Get("ca").empty());
      session = std::make_unique<Poco::Net::HTTPSClientSession>(url.getHost(), url.getPort(), context);
    } else {
      session = std::make_unique<Poco::Net::HTTPClientSession>(url.getHost(), url.getPort());
    }
    session->setTimeout(Poco::Timespan(60, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("Authorization", "Bearer " + token);
    request.setContentType("application/json");
    request.setContentLength(static_cast<std::streamsize>(body.size()));
    session->sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::string answer;
    Poco::StreamCopier::copyToString(session->receiveResponse(response), answer);
    try {
      Poco::JSON::Parser parser;
      Poco::JSON::Stringifier::stringify(parser.parse(answer), std::cout, 2);
      std::cout << "\n";
    } catch (const Poco::Exception&) {
      std::cout << answer << "\n";
    }
    if (response.getStatus() >= 300) {
      std::cerr << "taxhubctl: " << static_cast<int>(response.getStatus()) << " " << response.getReason() << "\n";
      return 1;
    }
    return 0;
  } catch (const Poco::Exception& e) {
    std::cerr << "taxhubctl: " << e.displayText() << "\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!Parse(argc, argv, args)) return Usage();
  if (args.positional[0] == "token") return args.positional.size() == 1 ? Token(args) : Usage();
  return Call(args);
}
