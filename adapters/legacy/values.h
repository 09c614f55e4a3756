// Values every legacy interface needs: amounts in fen, and serials derived from stage task ids.
#ifndef TAXHUB_ADAPTERS_LEGACY_VALUES_H_
#define TAXHUB_ADAPTERS_LEGACY_VALUES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace taxhub::legacy {

// The serial a legacy system sees for a stage task: `length` upper-case hex characters of a
// digest of the system's name and the task id. A redelivered task carries the same serial, so
// the legacy side recognises a retry; two systems never share one.
std::string SerialFor(std::string_view system, std::string_view task_id, size_t length = 20);

// "1300.5" -> 130050 fen; nullopt for anything else than a non-negative decimal with at most
// two places.
std::optional<int64_t> ToFen(std::string_view yuan);
std::string FromFen(int64_t fen);  // 130050 -> "1300.50"

// "2026-10" (or "202610") + n months -> "2027-01"; "" for anything that is not such a month.
std::string AddMonths(std::string_view period, int months);

}  // namespace taxhub::legacy

#endif  // TAXHUB_ADAPTERS_LEGACY_VALUES_H_
