// A stand-in for the invoice system (see adapters/invoice/invoice_protocol.h): knows the
// invoices issued, authenticates each once for its buyer, and answers like the real one per
// invoice — authenticated, already authenticated, not found, mismatch. It takes the month's
// copy reports and passes each on to the core tax system (a C001 record, see
// adapters/filing/filing_protocol.h) before answering, as the real one feeds 金税三期. A repeated
// serial gets its first answer. Faults (slow, dropped answers, down) come from FramedStandIn.
#ifndef TAXHUB_ADAPTERS_STANDINS_INVOICE_STANDIN_H_
#define TAXHUB_ADAPTERS_STANDINS_INVOICE_STANDIN_H_

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "adapters/legacy/fixed_width.h"
#include "adapters/legacy/framing.h"
#include "adapters/standins/framed_standin.h"

namespace taxhub::standins {

struct IssuedInvoice {
  std::string code, number, date;  // date YYYYMMDD
  int64_t amount_fen = 0, tax_fen = 0;
  std::string seller, buyer;
};

struct InvoiceOptions {
  ListenOptions listen;
  // Dev and demo traffic invents its invoices: take an unknown one as issued exactly as
  // presented (then authenticate it) instead of answering "not found".
  bool issue_unknown = false;
  // The core tax system that copy reports go on to; port 0: none (they are only recorded).
  legacy::LegacyEndpoint core{"127.0.0.1", 0, 3000};
};

class InvoiceStandIn final : public FramedStandIn {
 public:
  explicit InvoiceStandIn(InvoiceOptions options)
      : FramedStandIn(options.listen), options_(std::move(options)) {}
  ~InvoiceStandIn() override { Stop(); }

  void Issue(const IssuedInvoice& invoice);
  // Lines of "code,number,YYYYMMDD,amount,tax,seller,buyer" (amounts in yuan); '#' comments.
  Status LoadIssued(const std::string& path);

  int authentications() const { return authentications_; }  // invoices newly authenticated
  int copy_reports() const { return copy_reports_; }        // copy reports taken

 private:
  std::string Answer(std::string_view request) override;

  InvoiceOptions options_;
  std::string CopyReport(const legacy::Batch& batch);

  std::atomic<int> authentications_{0};
  std::atomic<int> copy_reports_{0};
  std::mutex mutex_;
  std::map<std::string, IssuedInvoice> issued_;   // code+number
  std::set<std::string> authenticated_;           // code+number
  std::map<std::string, std::string> answers_;    // serial -> answer
};

}  // namespace taxhub::standins

#endif  // TAXHUB_ADAPTERS_STANDINS_INVOICE_STANDIN_H_
