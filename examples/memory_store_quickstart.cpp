#include <strata/memory_store.hpp>

#include <chrono>
#include <iostream>

int main() {
  using namespace std::chrono_literals;

  strata::MemoryStoreOptions options;
  options.capacity_bytes = 32 * 1024 * 1024;  // keys + values + per-entry overhead, never exceeded
  strata::MemoryStore cache(options);

  cache.set_for("job:123:progress", strata::Bytes::copy_of(R"({"stage":"rendering"})"), 30s);

  if (const auto value = cache.get("job:123:progress")) {  // a hit shares the stored bytes
    std::cout << value->view() << '\n';
  }

  cache.erase("job:123:progress");
  if (cache.get("job:123:progress")) return 1;  // gone: the next read goes to the database

  const strata::MemoryStoreStats stats = cache.stats();
  std::cout << "hits " << stats.hits << ", misses " << stats.misses << '\n';
  return stats.hits == 1 && stats.misses == 1 ? 0 : 1;
}
