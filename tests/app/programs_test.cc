// The programs we ship, as the dynamic loader sees them: the hub and the adapters allocate
// through tcmalloc (cmake/allocator.cmake), and the test tools keep glibc's malloc.

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "tests/support/process.h"

namespace taxhub::testing {
namespace {

// Where the loader puts `library` among `program`'s libraries: its line in ldd's listing, or
// npos when the program does not load it.
size_t LoadPosition(const std::string& listing, std::string_view library) {
  const size_t at = listing.find(std::string(library) + " ");
  return at == std::string::npos ? at : listing.rfind('\n', at) + 1;
}

std::string LibrariesOf(const std::string& program) {
  CommandResult ldd = RunCommand({"/usr/bin/ldd", BinDir() + "/" + program});
  EXPECT_EQ(ldd.exit_code, 0) << ldd.output;
  return ldd.output;
}

TEST(ShippedPrograms, AllocateThroughTcmalloc) {
  if (!TAXHUB_TCMALLOC) GTEST_SKIP() << "built with TAXHUB_TCMALLOC=OFF";
  for (const char* program : {"taxhub", "taxhub-adapter-sample", "taxhub-adapter-filing",
                              "taxhub-adapter-invoice", "taxhub-adapter-tips", "taxhub-adapter-sms"}) {
    SCOPED_TRACE(program);
    const std::string listing = LibrariesOf(program);
    const size_t tcmalloc = LoadPosition(listing, "libtcmalloc_minimal.so.4");
    const size_t libc = LoadPosition(listing, "libc.so.6");
    ASSERT_NE(tcmalloc, std::string::npos) << listing;
    ASSERT_NE(libc, std::string::npos) << listing;
    // The loader binds malloc to the first library that defines it.
    EXPECT_LT(tcmalloc, libc) << listing;
  }
}

// The load generator keeps glibc's malloc, so that what it costs the machine in a benchmark
// does not change with the hub's allocator.
TEST(ShippedPrograms, TheHallToolKeepsGlibcMalloc) {
  EXPECT_EQ(LoadPosition(LibrariesOf("taxhub-hall"), "libtcmalloc_minimal.so.4"), std::string::npos);
}

}  // namespace
}  // namespace taxhub::testing
