#pragma once

// The admin listener's live dashboard: one self-contained page (no external assets: the machines
// may be offline). It holds no data; its script reads the admin API's /dashboard/data with the
// admin token, so it shows nothing to a caller without one.

#include <string_view>

namespace strata::gateway {

// dashboard.html, compiled in.
std::string_view dashboard_page() noexcept;

}  // namespace strata::gateway
