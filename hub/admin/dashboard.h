// The operators' dashboard: hub/admin/dashboard/*.{html,css,js}, compiled into the binary
// (cmake/embed_dashboard.cmake) and served at / and /dashboard/<name>.
#ifndef TAXHUB_HUB_ADMIN_DASHBOARD_H_
#define TAXHUB_HUB_ADMIN_DASHBOARD_H_

#include <string_view>

namespace taxhub::admin {

struct DashboardFile {
  std::string_view name;          // "index.html"
  std::string_view content_type;  // "text/html; charset=utf-8"
  std::string_view content;
};

// nullptr for a name that is not one of the dashboard's files.
const DashboardFile* DashboardAsset(std::string_view name);

}  // namespace taxhub::admin

#endif  // TAXHUB_HUB_ADMIN_DASHBOARD_H_
