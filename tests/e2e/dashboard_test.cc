// The dashboard in a real browser: headless Chromium (Debian chromium) opens the page the hub
// serves, with a staff member's token in the URL fragment; the test claims a task and approves
// it through the page's buttons and sees the request's timeline change to COMPLETED.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "hub/admin/tokens.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_hub.h"
#include "tools/client/mdp_client.h"

namespace taxhub::testing {
namespace {

TEST(Dashboard, AStaffMemberClaimsAndApprovesATaskInChromium) {
  if (!std::filesystem::exists("/usr/bin/chromium")) {
    if (std::getenv("CI")) FAIL() << "chromium is not installed";
    GTEST_SKIP() << "chromium is not installed";
  }
  TempDir dir;
  const std::string frontend = "tcp://127.0.0.1:" + std::to_string(FreePort());
  const std::string backend = "tcp://127.0.0.1:" + std::to_string(FreePort());
  const int admin_port = FreePort();
  const std::string key_file = dir.File("admin-token.key");
  ASSERT_TRUE(admin::TokenKey::CreateIfMissing(key_file).ok());
  std::ofstream(dir.File("hub.yaml")) << "hub:\n  id: dash\n  data_dir: " << dir.path() << "\n  log_level: warn\n"
                                      << "broker:\n  frontend: " << frontend << "\n  backend: " << backend << "\n"
                                      << "admin:\n  listen: 127.0.0.1:" << admin_port << "\n  token_key: " << key_file
                                      << "\nroutes: routes.yaml\n";
  std::ofstream(dir.File("routes.yaml")) << "routes:\n  - name: staff\n    match: {kind: staff.task}\n"
                                            "    stages: [{name: verify, label: 核查, queue: hall.verify, time_limit: 1d}]\n";
  auto hub = Process::Start({BinDir() + "/taxhub", "serve", "--config", dir.File("hub.yaml")}, dir.File("hub.log"));
  ASSERT_TRUE(Eventually([&] { return hub->Log().find(" up\n") != std::string::npos; })) << hub->Log();

  zmq::context_t context(1);
  client::HubClient hall(context, frontend);
  wire::SubmitRequest r;
  r.request_id = "DASH-1";
  r.kind = "staff.task";
  r.taxpayer_id = "91310110666007217T";
  r.body = "{\"name\":\"示范企业\"}";
  ASSERT_TRUE(hall.Submit(r).has_value());

  auto key = admin::TokenKey::Load(key_file, "taxhub", "taxhub-admin");
  ASSERT_TRUE(key.has_value());
  const std::string token = *key->Issue({"王晓明", admin::Role::kStaff}, SystemClock().NowMs(), 600'000);
  // The steps, as the page's buttons and forms are used by a person. (No double quotes in the
  // JS: it goes into JSON as it is.)
  const std::string row = "document.querySelector(`#tasks tr[data-task='DASH-1/0']`)";
  const std::vector<std::pair<std::string, std::string>> steps = {
      {"wait", "!!" + row},
      {"eval", "document.querySelector('#who').textContent"},
      {"eval", row + ".querySelector('button.claim').click(); true"},
      {"wait", row + "?.querySelector('.handler').textContent === '王晓明' && !!" + row +
                   ".querySelector('button.approve')"},
      {"eval", "document.querySelector('#request-id').value = 'DASH-1';"
               " document.querySelector('#timeline-form').requestSubmit(); true"},
      {"wait", "document.querySelector('#request-state')?.textContent === 'IN_PROGRESS'"},
      {"eval", row + ".querySelector('button.approve').click(); true"},
      {"wait", "document.querySelector('#request-state')?.textContent === 'COMPLETED'"},
      {"eval", "document.querySelector('#timeline').textContent"},
  };
  {
    std::ofstream out(dir.File("steps.json"));
    out << "[";
    for (size_t i = 0; i < steps.size(); ++i) {
      out << (i ? ",\n" : "") << "{\"" << steps[i].first << "\": \"" << steps[i].second << "\", \"timeout\": 20}";
    }
    out << "]";
  }
  auto driver = RunCommand({"/usr/bin/python3", std::string(TAXHUB_SOURCE_DIR) + "/tests/e2e/cdp_driver.py",
                            "--chromium", "/usr/bin/chromium", "--profile", dir.File("chromium"), "--url",
                            "http://127.0.0.1:" + std::to_string(admin_port) + "/#token=" + token, "--steps",
                            dir.File("steps.json")},
                           120'000);
  EXPECT_EQ(driver.exit_code, 0) << driver.output << "\n--- hub\n" << hub->Log();
  EXPECT_NE(driver.output.find("王晓明 · staff"), std::string::npos) << driver.output;
  EXPECT_NE(driver.output.find("claimed by 王晓明"), std::string::npos) << "the timeline names the staff member";
  auto progress = hall.Progress("DASH-1", "91310110666007217T");
  ASSERT_TRUE(progress.has_value());
  EXPECT_EQ(progress->state, wire::RequestState::COMPLETED);
  EXPECT_EQ(hub->Stop(10'000), 0);
}

}  // namespace
}  // namespace taxhub::testing
