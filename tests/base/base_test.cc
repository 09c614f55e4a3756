#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "hub/base/digest.h"
#include "hub/base/json_map.h"
#include "hub/base/log.h"
#include "hub/base/status.h"
#include "hub/base/text.h"
#include "hub/base/thread_name.h"
#include "hub/base/yaml_reader.h"

namespace taxhub {
namespace {

TEST(Status, ToStringNamesCodeMessageAndField) {
  Status s(ErrorCode::kConflict, "request id reused", "request_id");
  EXPECT_EQ(s.ToString(), "CONFLICT: request id reused (field request_id)");
  EXPECT_TRUE(Status::Ok().ok());
  EXPECT_EQ(s.WithContext("ledger").message(), "ledger: request id reused");
}

Result<int> Twice(Status s) {
  TAXHUB_RETURN_IF_ERROR(s);
  return 2;
}

TEST(Status, ReturnIfErrorWorksForResults) {
  EXPECT_EQ(Twice(Status::Ok()).value(), 2);
  auto failed = Twice(Status(ErrorCode::kTimeout, "slow"));
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code(), ErrorCode::kTimeout);
}

TEST(Text, Utf8AcceptsChineseAndRejectsBrokenSequences) {
  EXPECT_TRUE(IsValidUtf8("泰州国税 filing"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8(std::string("a\0b", 3)));
  EXPECT_FALSE(IsValidUtf8("\xd5\xfb"));          // GBK bytes are not UTF-8
}

TEST(Text, PrintableWritesOutWhatCouldBreakOrForgeALine) {
  EXPECT_EQ(Printable("纳税人 <b>'ok'</b>"), "纳税人 <b>'ok'</b>");
  EXPECT_EQ(Printable("a\r\nb\tc"), "a\\r\\nb\\tc");
  EXPECT_EQ(Printable(std::string("\0\x1b[2J\x7f", 6)), "\\x00\\x1b[2J\\x7f");
  EXPECT_EQ(Printable("a\\nb"), "a\\\\nb") << "a backslash cannot pass for an escape";
  EXPECT_EQ(Printable("\xc4\xc9 \xff"), "\\xc4\\xc9 \\xff") << "GBK and stray bytes";
  EXPECT_EQ(Printable("\xc2\x9b" "1m \xe2\x80\xa8"), "\\u009b1m \\u2028") << "C1 CSI, line separator";
  EXPECT_EQ(Printable("\xe7\xba"), "\\xe7\\xba") << "a truncated sequence";
}

TEST(Log, TextFromOutsideCannotForgeALogLine) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  std::fflush(stderr);
  const int saved = dup(STDERR_FILENO);
  dup2(pipe_fds[1], STDERR_FILENO);
  LogLine(LogLevel::kError, "test", "comment: x\n2026-11-30 12:00:00.000 INFO  [engine] forged");
  std::fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(pipe_fds[1]);
  std::string out(4096, '\0');
  const ssize_t n = read(pipe_fds[0], out.data(), out.size());
  close(pipe_fds[0]);
  ASSERT_GT(n, 0);
  out.resize(static_cast<size_t>(n));
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_NE(out.find("comment: x\\n2026-11-30"), std::string::npos) << out;
}

TEST(Text, TokenTextAllowsOnlyListedPunctuation) {
  EXPECT_TRUE(IsTokenText("filing.vat", "."));
  EXPECT_FALSE(IsTokenText("filing vat", "."));
  EXPECT_FALSE(IsTokenText("a';DROP", "._"));
}

TEST(JsonMap, RoundTripsUnicodeAndQuotes) {
  StringMap map = {{"name", "泰州\"示范\"\n公司"}, {"amount", "12.50"}};
  auto decoded = DecodeJsonMap(EncodeJsonMap(map));
  ASSERT_TRUE(decoded.has_value()) << decoded.error().ToString();
  EXPECT_EQ(*decoded, map);
  EXPECT_FALSE(DecodeJsonMap("{not json").has_value());
}

// Up to four entries, keys and values drawn from `alphabet`.
StringMap RandomMap(std::mt19937& random, const std::string& alphabet) {
  StringMap map;
  for (int entries = random() % 5; entries > 0; --entries) {
    std::string key, value;
    for (int n = random() % 8; n > 0; --n) key += alphabet[random() % alphabet.size()];
    for (int n = random() % 20; n > 0; --n) value += alphabet[random() % alphabet.size()];
    map[key] = value;
  }
  return map;
}

// Maps stored before the encoder was written by hand were written by Poco, and request
// fingerprints cover them: the bytes must not change.
TEST(JsonMap, EncodesExactlyAsPocoDid) {
  auto poco = [](const StringMap& map) {
    Poco::JSON::Object object;
    for (const auto& [key, value] : map) object.set(key, value);
    std::ostringstream out;
    object.stringify(out);
    return out.str();
  };
  for (int c = 0; c < 256; ++c) {
    const StringMap map = {{std::string(1, static_cast<char>(c)) + "k", "v" + std::string(1, static_cast<char>(c))}};
    EXPECT_EQ(EncodeJsonMap(map), poco(map)) << "byte " << c;
  }
  std::mt19937 random(7);
  std::string alphabet = "ab \"\\/\n\t\x01\x1f\x7f\xff税务\xe2\x80\xa8";
  alphabet += '\0';
  for (int round = 0; round < 500; ++round) {
    const StringMap map = RandomMap(random, alphabet);
    ASSERT_EQ(EncodeJsonMap(map), poco(map));
  }
}

// Decoding takes a fast path for flat objects of strings; it must read every text as Poco's
// parser does (or refuse it, as Poco does).
TEST(JsonMap, DecodesAsPocoDoes) {
  auto poco = [](const std::string& json) -> std::optional<StringMap> {
    try {
      Poco::JSON::Parser parser;
      auto object = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
      StringMap map;
      for (const auto& [key, value] : *object) map.emplace(key, value.toString());
      return map;
    } catch (...) {
      return std::nullopt;
    }
  };
  const std::vector<std::string> texts = {
      R"({})", R"( { } )", R"({"a":"1"})", R"({ "a" : "1" , "b":"2" })", R"({"a":"1","a":"2"})",
      R"({"e":"\"\\\/\b\f\n\r\t"})", R"({"u":"\u00e9\u7a0e\u0041\u0000x"})", R"({"s":"\ud83d\ude00"})",
      R"({"n":12.5,"t":true})", R"({"a":{"b":"c"}})", R"({"a":"1",})", R"({"a":"1")", R"({"a" "1"})",
      R"({"a":"\x"})", R"({"a":"\u12"})", R"({"a":"\u0Z00"})", R"(["a"])", R"({"a":"1"} x)",
      "{\"raw\":\"a\tb\"}", "{\"税\":\"中文\"}", R"({"a":null})"};
  for (const std::string& text : texts) {
    auto ours = DecodeJsonMap(text);
    auto theirs = poco(text);
    ASSERT_EQ(ours.has_value(), theirs.has_value()) << text;
    if (ours) {
      EXPECT_EQ(*ours, *theirs) << text;
    }
  }
  std::mt19937 random(11);
  std::string alphabet = "ab \"\\/\n\t\x01\x1f\x7f税务";
  alphabet += '\0';
  for (int round = 0; round < 500; ++round) {
    const StringMap map = RandomMap(random, alphabet);
    const std::string json = EncodeJsonMap(map);
    auto decoded = DecodeJsonMap(json);
    ASSERT_TRUE(decoded.has_value()) << json;
    ASSERT_EQ(*decoded, map) << json;
    // Poco's parser refuses invalid UTF-8 (which its writer writes) and drops \u0000; ours
    // reads back what was written. Otherwise both read the same.
    if (const auto theirs = poco(json); theirs && json.find("\\u0000") == std::string::npos) {
      ASSERT_EQ(*decoded, *theirs) << json;
    }
  }
}

TEST(ThreadName, NamesTheCallingThreadAsTheKernelShowsIt) {
  std::string seen, in_proc, numbered;
  std::thread([&] {
    NameThisThread("engine");
    seen = ThisThreadName();
    std::ifstream(std::string("/proc/self/task/") + std::to_string(gettid()) + "/comm") >> in_proc;
    NameThisThread(NumberedThreadName("verify", 12));
    numbered = ThisThreadName();
  }).join();
  EXPECT_EQ(seen, "engine");
  EXPECT_EQ(in_proc, "engine");
  EXPECT_EQ(numbered, "verify/12");
  EXPECT_NE(ThisThreadName(), "engine") << "only the thread that asked";
}

TEST(ThreadName, ALongNameIsCutToTheKernelsFifteenBytes) {
  std::string seen;
  std::thread([&] {
    NameThisThread("a-name-much-longer-than-fifteen");
    seen = ThisThreadName();
  }).join();
  EXPECT_EQ(seen, "a-name-much-lon");
}

TEST(Digest, LengthPrefixKeepsPartsApart) {
  EXPECT_NE(Sha256Hex({"ab", "c"}), Sha256Hex({"a", "bc"}));
  EXPECT_EQ(Sha256Hex({"x"}).size(), 64u);
}

TEST(YamlReader, DurationsAndSizes) {
  EXPECT_EQ(ParseDurationMs("250ms"), 250);
  EXPECT_EQ(ParseDurationMs("30s"), 30'000);
  EXPECT_EQ(ParseDurationMs("4h"), 4 * 3'600'000);
  EXPECT_EQ(ParseDurationMs("2d"), 2 * 86'400'000);
  EXPECT_EQ(ParseDurationMs("1500"), 1500);
  EXPECT_FALSE(ParseDurationMs("fast"));
  EXPECT_FALSE(ParseDurationMs("-1s"));
  EXPECT_FALSE(ParseDurationMs("3 weeks"));
  EXPECT_EQ(ParseDurationUs("300us"), 300);
  EXPECT_EQ(ParseDurationUs("2ms"), 2000);
  EXPECT_EQ(ParseDurationUs("1s"), 1'000'000);
  EXPECT_FALSE(ParseDurationUs("300"));  // no unit: too easily read as milliseconds
  EXPECT_EQ(ParseDurationUs("0"), 0);
  EXPECT_FALSE(ParseDurationUs("-5us"));
  EXPECT_EQ(ParseBytes("4MiB"), 4 << 20);
  EXPECT_EQ(ParseBytes("512KiB"), 512 << 10);
  EXPECT_FALSE(ParseBytes("4MB"));
}

TEST(YamlReader, UnknownKeyNamesFileLineAndPath) {
  Status s = ReadConfigText("x.yaml", "a:\n  b: 1\n  c: 2\n", [](ConfigNode& root) {
    ConfigNode a = root.Child("a");
    a.Int("b", std::nullopt, 0, 10);
    a.Finish();
  });
  EXPECT_EQ(s.message(), "x.yaml:3: a.c: unknown key");
}

TEST(YamlReader, BadValueNamesTheKey) {
  Status s = ReadConfigText("x.yaml", "a:\n  b: lots\n", [](ConfigNode& root) {
    root.Child("a").Int("b", std::nullopt, 0, 10);
  });
  EXPECT_EQ(s.message(), "x.yaml:2: a.b: expected an integer, got \"lots\"");
}

TEST(YamlReader, SyntaxErrorNamesTheLine) {
  Status s = ReadConfigText("x.yaml", "a:\n  b: [1, 2\n", [](ConfigNode&) {});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("x.yaml:"), std::string::npos);
  EXPECT_NE(s.message().find("YAML syntax"), std::string::npos);
}

}  // namespace
}  // namespace taxhub
