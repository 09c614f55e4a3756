// The CURVE allow-list and the ZAP handler's answers (RFC 27), without sockets; the sockets are
// in tests/integration/curve_test.cc.
#include "hub/security/curve_auth.h"

#include <gtest/gtest.h>
#include <zmq.h>

#include <cstdlib>
#include <fstream>

#include "hub/security/curve_keys.h"
#include "tests/support/temp_dir.h"

namespace taxhub::security {
namespace {

struct Pair {
  std::string public_z85, secret_z85;
  std::string Binary() const {
    uint8_t key[32];
    zmq_z85_decode(key, public_z85.c_str());
    return std::string(reinterpret_cast<const char*>(key), 32);
  }
};

Pair NewPair() {
  auto pair = GenerateCurveKeyPair();
  EXPECT_TRUE(pair.has_value());
  return {pair->public_z85, pair->secret_z85};
}

std::vector<std::string> ZapRequest(const std::string& domain, const std::string& key,
                                    const std::string& mechanism = "CURVE") {
  return {"1.0", "7", domain, "127.0.0.1", "", mechanism, key};
}

class CurveAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(peers_->Add({"hall", hall_.public_z85, PeerRole::kHall, {}}).ok());
    ASSERT_TRUE(peers_->Add({"adapter-filing", adapter_.public_z85, PeerRole::kAdapter,
                             {"filing.*", "core.register"}}).ok());
    ASSERT_TRUE(peers_->Add({"sms-platform", subscriber_.public_z85, PeerRole::kSubscriber, {}}).ok());
  }

  Pair hall_ = NewPair(), adapter_ = NewPair(), subscriber_ = NewPair(), stranger_ = NewPair();
  std::shared_ptr<CurveAllowList> peers_ = std::make_shared<CurveAllowList>();
  zmq::context_t context_{1};
};

TEST_F(CurveAuthTest, EachRoleConnectsOnlyWhereItBelongs) {
  ZapHandler zap(context_, peers_);
  auto answer = [&](const std::string& domain, const Pair& pair) { return zap.Answer(ZapRequest(domain, pair.Binary())); };
  auto ok = answer(kFrontendDomain, hall_);
  ASSERT_EQ(ok.size(), 6u);
  EXPECT_EQ(ok[0], "1.0");
  EXPECT_EQ(ok[1], "7") << "the request id comes back";
  EXPECT_EQ(ok[2], "200");
  EXPECT_EQ(ok[4], "hall") << "the User-Id is the peer's name";
  EXPECT_EQ(answer(kBackendDomain, hall_)[2], "400") << "a hall key is no adapter";
  EXPECT_EQ(answer(kEventsDomain, hall_)[2], "400");
  EXPECT_EQ(answer(kBackendDomain, adapter_)[2], "200");
  EXPECT_EQ(answer(kFrontendDomain, adapter_)[2], "200") << "adapters report on the frontend";
  EXPECT_EQ(answer(kEventsDomain, adapter_)[2], "400");
  EXPECT_EQ(answer(kEventsDomain, subscriber_)[2], "200");
  EXPECT_EQ(answer(kBackendDomain, subscriber_)[2], "400");
  for (const char* domain : {kFrontendDomain, kBackendDomain, kEventsDomain}) {
    auto refused = answer(domain, stranger_);
    EXPECT_EQ(refused[2], "400") << domain;
    EXPECT_NE(refused[3].find(stranger_.public_z85), std::string::npos) << "the refusal names the key: " << refused[3];
    EXPECT_EQ(refused[4], "") << "a refused peer gets no name";
  }
  EXPECT_EQ(answer("somewhere.else", hall_)[2], "400") << "an unknown domain admits nobody";
  EXPECT_EQ(zap.Answer(ZapRequest(kFrontendDomain, "", "NULL"))[2], "400") << "only CURVE";
  EXPECT_EQ(zap.Answer(ZapRequest(kFrontendDomain, hall_.Binary(), "PLAIN"))[2], "400");
  EXPECT_EQ(zap.Answer(ZapRequest(kFrontendDomain, hall_.Binary().substr(0, 31)))[2], "400");
  EXPECT_EQ(zap.Answer({"2.0", "1", kFrontendDomain, "", "", "CURVE", hall_.Binary()})[2], "500");
  EXPECT_EQ(zap.Answer({"1.0"})[2], "500") << "a short request is answered, not crashed on";
  EXPECT_EQ(zap.counters().accepted.load(), 4u);
  EXPECT_EQ(zap.counters().refused.load(), 13u);
}

TEST_F(CurveAuthTest, ServicesAreHeldToTheRole) {
  const CurvePeer& hall = *peers_->FindByName("hall");
  const CurvePeer& adapter = *peers_->FindByName("adapter-filing");
  const CurvePeer& subscriber = *peers_->FindByName("sms-platform");
  EXPECT_TRUE(CurveAllowList::MayCall(hall, "taxhub.submit"));
  EXPECT_TRUE(CurveAllowList::MayCall(hall, "consult.ask"));
  EXPECT_FALSE(CurveAllowList::MayCall(hall, "taxhub.report")) << "only adapters say what a legacy system did";
  EXPECT_TRUE(CurveAllowList::MayCall(adapter, "taxhub.report"));
  EXPECT_FALSE(CurveAllowList::MayCall(adapter, "taxhub.submit"));
  EXPECT_TRUE(CurveAllowList::MayCall(subscriber, "taxhub.events"));
  EXPECT_FALSE(CurveAllowList::MayCall(subscriber, "taxhub.progress"));
  for (const CurvePeer* peer : {&hall, &adapter, &subscriber}) {
    EXPECT_TRUE(CurveAllowList::MayCall(*peer, "mmi.service"));
  }

  EXPECT_TRUE(CurveAllowList::MayServe(adapter, "filing.13212000000"));
  EXPECT_TRUE(CurveAllowList::MayServe(adapter, "core.register"));
  EXPECT_FALSE(CurveAllowList::MayServe(adapter, "filing")) << "prefix.* needs something after the dot";
  EXPECT_FALSE(CurveAllowList::MayServe(adapter, "filingx.1"));
  EXPECT_FALSE(CurveAllowList::MayServe(adapter, "core.registers"));
  EXPECT_FALSE(CurveAllowList::MayServe(adapter, "tips.pay"));
  EXPECT_FALSE(CurveAllowList::MayServe(hall, "filing.1")) << "only adapters serve";

  EXPECT_EQ(peers_->FindByKey(adapter_.Binary()), &adapter);
  EXPECT_EQ(peers_->FindByKey(stranger_.Binary()), nullptr);
}

TEST_F(CurveAuthTest, ABadListIsRefusedNamingTheField) {
  const Pair other = NewPair();
  auto field = [&](CurvePeer peer) { return peers_->Add(std::move(peer)).field(); };
  EXPECT_EQ(field({"hall", other.public_z85, PeerRole::kHall, {}}), "name") << "a name twice";
  EXPECT_EQ(field({"hall-2", hall_.public_z85, PeerRole::kHall, {}}), "key") << "a key twice";
  EXPECT_EQ(field({"x", "not a key", PeerRole::kHall, {}}), "key");
  EXPECT_EQ(field({"x", other.public_z85, PeerRole::kAdapter, {}}), "services") << "an adapter serves something";
  EXPECT_EQ(field({"x", other.public_z85, PeerRole::kHall, {"a.b"}}), "services");
  EXPECT_EQ(field({"x", other.public_z85, PeerRole::kAdapter, {"*"}}), "services");
  EXPECT_EQ(field({"x", other.public_z85, PeerRole::kAdapter, {"a b"}}), "services");
  EXPECT_EQ(field({"", other.public_z85, PeerRole::kHall, {}}), "name");
  EXPECT_EQ(peers_->size(), 3u) << "nothing half-added";
  EXPECT_EQ(ParsePeerRole("subscriber").value_or(PeerRole::kHall), PeerRole::kSubscriber);
  EXPECT_EQ(ParsePeerRole("admin").error().field(), "role");
}

TEST_F(CurveAuthTest, AListedPeerMayHoldASecondKeyWhileItChangesOver) {
  const Pair next = NewPair();
  EXPECT_EQ(peers_->AddKey("nobody", next.public_z85).field(), "name");
  EXPECT_EQ(peers_->AddKey("adapter-filing", hall_.public_z85).field(), "key") << "another peer's key";
  EXPECT_EQ(peers_->AddKey("adapter-filing", "not a key").field(), "key");
  ASSERT_TRUE(peers_->AddKey("adapter-filing", next.public_z85).ok());
  EXPECT_EQ(peers_->FindByKey(next.Binary()), peers_->FindByKey(adapter_.Binary())) << "one peer, two keys";
  EXPECT_EQ(peers_->size(), 3u);
  EXPECT_EQ(peers_->keys(), 4u);
  ZapHandler zap(context_, peers_);
  EXPECT_EQ(zap.Answer(ZapRequest(kBackendDomain, next.Binary()))[4], "adapter-filing");
  // Replaced by a list without it, the handler refuses it from then on.
  auto without = std::make_shared<CurveAllowList>();
  ASSERT_TRUE(without->Add({"adapter-filing", adapter_.public_z85, PeerRole::kAdapter, {"filing.*"}}).ok());
  zap.Replace(without);
  EXPECT_EQ(zap.Answer(ZapRequest(kBackendDomain, next.Binary()))[2], "400");
  EXPECT_EQ(zap.Answer(ZapRequest(kBackendDomain, adapter_.Binary()))[2], "200");
}

TEST(CurveKeys, APeerFileHoldsOneKeyALine) {
  taxhub::testing::TempDir dir;
  const Pair a = NewPair(), b = NewPair();
  const std::string path = dir.File("adapter.pub");
  std::ofstream(path) << "# adapter-filing, changing keys\n" << a.public_z85 << "\n\n  " << b.public_z85 << "  \r\n";
  auto keys = ReadCurveKeys(path);
  ASSERT_TRUE(keys.has_value()) << keys.error().ToString();
  EXPECT_EQ(*keys, (std::vector<std::string>{a.public_z85, b.public_z85}));
  // Not a key (39 characters), nor a comment: b's second character, which could be '#' (a key's
  // first can never be), does not start the line.
  std::ofstream(path, std::ios::trunc) << a.public_z85 << "\n# a comment\n" << "x" << b.public_z85.substr(2) << "\n";
  auto bad = ReadCurveKeys(path);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("adapter.pub:3:"), std::string::npos) << bad.error().ToString();
  EXPECT_EQ(bad.error().field(), "key");
  std::ofstream(path, std::ios::trunc) << "# nothing\n";
  EXPECT_FALSE(ReadCurveKeys(path).has_value());
  EXPECT_FALSE(ReadCurveKeys(dir.File("missing.pub")).has_value());
}

TEST(CurveClient, KeysComeFromTheEnvironmentOrNotAtAll) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteCurveKeyPair(dir.path(), "hub").ok());
  ASSERT_TRUE(WriteCurveKeyPair(dir.path(), "hall").ok());
  unsetenv(kCurveServerVariable);
  unsetenv(kCurveKeyVariable);
  auto none = CurveClientKeysFromEnvironment();
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->has_value()) << "nothing set: plain text";

  setenv(kCurveServerVariable, dir.File("hub.pub").c_str(), 1);
  auto half = CurveClientKeysFromEnvironment();
  ASSERT_FALSE(half.has_value()) << "one without the other is a mistake, not plain text";
  EXPECT_EQ(half.error().field(), kCurveKeyVariable);

  setenv(kCurveKeyVariable, dir.File("hall.key").c_str(), 1);
  auto keys = CurveClientKeysFromEnvironment();
  ASSERT_TRUE(keys.has_value() && keys->has_value()) << (keys ? "" : keys.error().ToString());
  EXPECT_EQ((*keys)->server_public, ReadCurveKey(dir.File("hub.pub")).value_or(""));
  EXPECT_EQ((*keys)->public_key, ReadCurveKey(dir.File("hall.pub")).value_or("")) << "derived from the secret";

  setenv(kCurveKeyVariable, dir.File("missing.key").c_str(), 1);
  EXPECT_FALSE(CurveClientKeysFromEnvironment().has_value());
  unsetenv(kCurveServerVariable);
  unsetenv(kCurveKeyVariable);
}

}  // namespace
}  // namespace taxhub::security
