// Schema migrations from schemas/sql/<backend>/NNN_name.sql, compiled into the binary by
// cmake/embed_migrations.cmake. Each backend applies, in one transaction per file, every
// migration above the version recorded in its schema_version table.
#ifndef TAXHUB_HUB_LEDGER_MIGRATIONS_H_
#define TAXHUB_HUB_LEDGER_MIGRATIONS_H_

#include <span>
#include <string_view>

namespace taxhub::ledger {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// In increasing version order; empty for an unknown backend.
std::span<const Migration> MigrationsFor(std::string_view backend);

}  // namespace taxhub::ledger

#endif  // TAXHUB_HUB_LEDGER_MIGRATIONS_H_
