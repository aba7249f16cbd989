#include <strata/cache/result.hpp>

#include <string>

namespace strata {

std::string_view to_string(Source source) noexcept {
  switch (source) {
    case Source::l1: return "l1";
    case Source::l2: return "l2";
    case Source::loader: return "loader";
    case Source::stale: return "stale";
  }
  return "unknown";
}

namespace {

class CacheCategory final : public std::error_category {
public:
  [[nodiscard]] const char* name() const noexcept override { return "strata.cache"; }
  [[nodiscard]] std::string message(int value) const override {
    switch (static_cast<CacheError>(value)) {
      case CacheError::redis_unavailable: return "Redis unavailable: done in this process's L1 only";
      case CacheError::redis_incomplete: return "Redis failed part way: done in part, replayed when it answers";
    }
    return "unknown cache error";
  }
};

}  // namespace

const std::error_category& cache_category() noexcept {
  static const CacheCategory category;
  return category;
}

std::error_code make_error_code(CacheError error) noexcept {
  return {static_cast<int>(error), cache_category()};
}

}  // namespace strata
