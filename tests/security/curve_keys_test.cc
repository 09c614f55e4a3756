#include "hub/security/curve_keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zmq.h>

#include <fstream>

#include "tests/support/temp_dir.h"

namespace taxhub::security {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

TEST(CurveKeys, APairIsWrittenAsZ85WithTheSecretKeptPrivate) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteCurveKeyPair(dir.path(), "hall").ok());
  const std::string public_key = Read(dir.File("hall.pub")), secret_key = Read(dir.File("hall.key"));
  ASSERT_EQ(public_key.size(), 40u);
  ASSERT_EQ(secret_key.size(), 40u);
  char derived[41] = {};
  ASSERT_EQ(zmq_curve_public(derived, secret_key.c_str()), 0);
  EXPECT_EQ(std::string(derived), public_key) << "the files are one pair";
  struct stat info {};
  ASSERT_EQ(stat(dir.File("hall.key").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_EQ(ReadCurveKey(dir.File("hall.pub")).value_or(""), public_key);
  EXPECT_EQ(ReadCurveKey(dir.File("hall.key")).value_or(""), secret_key);

  ASSERT_TRUE(WriteCurveKeyPair(dir.path(), "adapter-filing").ok());
  EXPECT_NE(Read(dir.File("adapter-filing.pub")), public_key) << "each pair is new";
}

TEST(CurveKeys, NothingIsOverwrittenAndBadNamesAndFilesAreRefused) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteCurveKeyPair(dir.path(), "hub").ok());
  const std::string secret_key = Read(dir.File("hub.key"));
  Status again = WriteCurveKeyPair(dir.path(), "hub");
  EXPECT_EQ(again.code(), ErrorCode::kConflict) << again.ToString();
  EXPECT_EQ(Read(dir.File("hub.key")), secret_key) << "the key in use is untouched";
  for (const char* name : {"", ".hidden", "../escape", "a/b", "空格 name"}) {
    Status bad = WriteCurveKeyPair(dir.path(), name);
    EXPECT_EQ(bad.code(), ErrorCode::kBadRequest) << name;
    EXPECT_EQ(bad.field(), "name");
  }
  std::ofstream(dir.File("short.pub")) << "too-short\n";
  EXPECT_EQ(ReadCurveKey(dir.File("short.pub")).error().code(), ErrorCode::kBadRequest);
  std::ofstream(dir.File("bad.pub")) << std::string(40, '"') << "\n";  // '"' is not a Z85 digit
  EXPECT_FALSE(ReadCurveKey(dir.File("bad.pub")).has_value());
  EXPECT_EQ(ReadCurveKey(dir.File("missing.pub")).error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace taxhub::security
