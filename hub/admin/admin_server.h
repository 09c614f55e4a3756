// The admin endpoint: a Poco HTTP(S) server in the hub process for operators, managers, staff
// and auditors. JSON under /api/v1 (bearer tokens, see tokens.h; 401 without a valid one, 403
// for the wrong role), plus /healthz, /readyz and /metrics (Prometheus text) without a token.
// Reads come from its own read-only ledger connection; changes go through the engine, which
// records each as a ledger event naming the user.
#ifndef TAXHUB_HUB_ADMIN_ADMIN_SERVER_H_
#define TAXHUB_HUB_ADMIN_ADMIN_SERVER_H_

#include <memory>

#include "hub/base/clock.h"
#include "hub/base/status.h"

namespace taxhub::app {
class Hub;
}

namespace taxhub::admin {

class AdminServer {
 public:
  // Listens as the hub's config.admin says; the hub must outlive the server.
  static Result<std::unique_ptr<AdminServer>> Start(app::Hub& hub, const Clock& clock);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  int port() const;
  bool https() const;
  // Stops accepting and waits for the requests being served.
  void Stop();

  struct Impl;

 private:
  explicit AdminServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace taxhub::admin

#endif  // TAXHUB_HUB_ADMIN_ADMIN_SERVER_H_
