// The ledger conformance suite: every backend must pass the same tests. A backend's test
// binary instantiates LedgerConformance with a factory that opens a fresh, empty ledger.
#ifndef TAXHUB_TESTS_LEDGER_LEDGER_CONFORMANCE_H_
#define TAXHUB_TESTS_LEDGER_LEDGER_CONFORMANCE_H_

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "hub/ledger/ledger.h"

namespace taxhub::ledger {

// Opens the ledger behind `location` (a file path or DSN). Reopening the same location must
// see the same data.
struct Backend {
  std::string name;
  // Prepares a fresh location (a new file, a new database); empty string skips the test.
  std::function<std::string()> fresh;
  std::function<Result<std::unique_ptr<Ledger>>(const std::string&)> open;
};

// An event to append: the ledger fills in its chain fields.
inline EventRecord Event(std::string request_id, int stage, std::string type, int64_t at_ms,
                         std::string detail) {
  EventRecord e;
  e.request_id = std::move(request_id);
  e.stage = stage;
  e.type = std::move(type);
  e.at_ms = at_ms;
  e.detail = std::move(detail);
  return e;
}

inline void PrintTo(const Backend& backend, std::ostream* out) { *out << backend.name; }

class LedgerConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override;
  std::unique_ptr<Transaction> Begin();
  void Reopen();

  std::string location_;
  std::unique_ptr<Ledger> ledger_;
};

}  // namespace taxhub::ledger

#endif  // TAXHUB_TESTS_LEDGER_LEDGER_CONFORMANCE_H_
