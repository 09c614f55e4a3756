// A stand-in for the core tax system's filing interface (see adapters/filing/filing_protocol.h):
// keeps filed periods, tax-type registrations (T001 recognises one, T002 deregisters the taxpayer) and the month's copy reports, assesses the tax
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

#include "adapters/standins/framed_standin.h"

namespace taxhub::standins {

struct FilingOptions {
  ListenOptions listen;
  bool require_copy_report = true;            // VAT needs the month's copy report first
  std::set<std::string> unregistered;         // "taxpayer:tax_type" pairs not registered
};

class FilingStandIn final : public FramedStandIn {
 public:
  explicit FilingStandIn(FilingOptions options)
      : FramedStandIn(options.listen), options_(std::move(options)) {}
  ~FilingStandIn() override { Stop(); }

  // What the legacy side has done: filings applied (a repeated serial is not a second filing).
  int filings() const { return filings_; }

 private:
  std::string Answer(std::string_view request) override;

  FilingOptions options_;
  std::atomic<int> filings_{0};
  std::mutex mutex_;
  std::map<std::string, std::string> answers_;      // serial -> answer record
  std::map<std::string, std::string> filed_;         // taxpayer:tax_type:period -> filing no
  std::set<std::string> copy_reports_;               // taxpayer:period
  std::set<std::string> registered_;                 // taxpayer:tax_type recognised by T001
  std::set<std::string> deregistered_;               // taxpayers deregistered by T002
};

}  // namespace taxhub::standins

#endif  // TAXHUB_ADAPTERS_STANDINS_FILING_STANDIN_H_
