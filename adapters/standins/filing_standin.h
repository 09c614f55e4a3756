// A stand-in for the core tax system's filing interface (see adapters/filing/filing_protocol.h):
// keeps filed periods, tax-type registrations and the month's copy reports, assesses the tax
// due, refuses like the real one (E101 already filed, E102 not registered, E103 no copy
// report), answers a repeated serial with its first answer, and can be told to be slow, to drop
// answers after doing the work, or to be down.
#ifndef TAXHUB_ADAPTERS_STANDINS_FILING_STANDIN_H_
#define TAXHUB_ADAPTERS_STANDINS_FILING_STANDIN_H_

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "adapters/legacy/framing.h"

namespace taxhub::standins {

struct FilingOptions {
  std::string host = "127.0.0.1";
  int port = 0;                               // 0: any free port
  int64_t delay_ms = 0;                       // before each answer
  bool require_copy_report = true;            // VAT needs the month's copy report first
  std::set<std::string> unregistered;         // "taxpayer:tax_type" pairs not registered
};

class FilingStandIn {
 public:
  explicit FilingStandIn(FilingOptions options) : options_(std::move(options)) {}
  ~FilingStandIn() { Stop(); }
  Status Start();
  void Stop();
  int port() const { return port_; }

  // Faults, switchable while running.
  void SetDelay(int64_t ms) { options_.delay_ms = ms; }
  void SetDropAnswers(bool drop) { drop_answers_ = drop; }

  // What the legacy side has done: filings applied (a repeated serial is not a second filing).
  int filings() const { return filings_; }
  int requests() const { return requests_; }

 private:
  void Serve(legacy::FramedServer server);
  std::string Answer(const std::string& request);

  FilingOptions options_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> drop_answers_{false};
  std::atomic<int> filings_{0};
  std::atomic<int> requests_{0};
  std::thread thread_;
  std::mutex mutex_;
  std::map<std::string, std::string> answers_;      // serial -> answer record
  std::map<std::string, std::string> filed_;         // taxpayer:tax_type:period -> filing no
  std::set<std::string> copy_reports_;               // taxpayer:period
};

}  // namespace taxhub::standins

#endif  // TAXHUB_ADAPTERS_STANDINS_FILING_STANDIN_H_
